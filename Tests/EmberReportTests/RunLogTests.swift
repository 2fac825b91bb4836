import EmberReport
import XCTest

final class RunLogTests: XCTestCase {
    func testStepsEvaluationsAndAResumeRestart() throws {
        let text = """
        {"step":0,"eval":{"384":{"ndcg@10":0.5},"32":{"ndcg@10":null}}}
        {"step":1,"epoch":0.5,"loss":2.0,"losses":{"384":1.5,"32":2.5},"lr":1e-5,"grad_norm":3,"pairs_per_s":10,"seconds":1}
        {"step":2,"epoch":1,"loss":1.8,"lr":2e-5,"grad_norm":2,"pairs_per_s":11,"seconds":2}
        {"step":2,"eval":{"384":{"ndcg@10":0.6}}}
        {"step":3,"epoch":1.5,"loss":null,"skipped":true,"lr":2e-5,"grad_norm":null,"pairs_per_s":11,"seconds":3}
        {"step":2,"epoch":1,"loss":1.7,"lr":2e-5,"grad_norm":2,"pairs_per_s":11,"seconds":2}
        {"step":2,"best":{"step":0,"metric":"ndcg@10","dim":384,"value":0.5}}

        """
        let log = try RunLog(jsonLines: text, source: "m.jsonl")
        XCTAssertEqual(log.steps.map(\.step), [1, 2])
        XCTAssertEqual(log.steps[1].loss, 1.7)
        XCTAssertEqual(log.steps[0].losses["32"], 2.5)
        XCTAssertEqual(log.lossDims, ["384", "32"])
        XCTAssertEqual(log.evaluations.map(\.step), [0])   // the step-2 evaluation belonged to the abandoned attempt
        XCTAssertEqual(log.evaluations[0].dims, ["384", "32"])
        XCTAssertEqual(log.evaluations[0].results["32"]?["ndcg@10"], .some(nil))
        XCTAssertEqual(log.best, RunLog.Best(step: 0, metric: "ndcg@10", dimension: 384, value: 0.5))
        XCTAssertEqual(log.steps.count, 2, "the best-model line is not a step")
    }

    func testBadLinesNameFileAndLine() {
        XCTAssertThrowsError(try RunLog(jsonLines: "{\"step\":1}\nnot json\n", source: "m.jsonl")) { error in
            XCTAssertEqual("\(error)".contains("m.jsonl line 2"), true, "\(error)")
        }
        XCTAssertThrowsError(try RunLog(jsonLines: "{\"loss\":1}\n", source: "m.jsonl"))
    }
}
