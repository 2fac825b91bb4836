import EmberCore
import EmberLosses
import EmberModel
import EmberTraining
import Foundation
import XCTest

/// How the trainer turns the sampler's batches into optimiser steps.
final class TrainerPlanTests: XCTestCase {
    func data(rows: Int) -> TrainingData {
        TrainingData(columnNames: ["anchor", "positive"], rows: zip(TinyTexts.make(rows, salt: 1), TinyTexts.make(rows, salt: 2)).map { [$0, $1] })
    }

    func testGradientAccumulationGroupsBatchesWithinAnEpoch() throws {
        var c = TrainingConfiguration()
        c.batchSize = 4; c.epochs = 2; c.gradientAccumulationSteps = 2
        let trainer = try Trainer(model: try SentenceModel(folder: TrainingPaths.tinyBert), loss: try MultipleNegativesRankingLoss(),
                                  data: data(rows: 20), configuration: c)
        // 20 distinct rows → 5 batches of 4 per epoch → steps of 2, 2, 1 batches; 2 epochs → 6 steps.
        XCTAssertEqual(trainer.plan.map(\.count), [2, 2, 1, 2, 2, 1])
        XCTAssertEqual(trainer.plan.map { $0[0].epoch }, [0, 0, 0, 1, 1, 1])
        for epoch in 0..<2 {
            let rows = trainer.plan.filter { $0[0].epoch == epoch }.flatMap { $0.flatMap(\.rows) }
            XCTAssertEqual(rows.sorted(), Array(0..<20), "every row once per epoch")
        }
        XCTAssertEqual(trainer.warmupSteps, 1, "10% of 6 steps, rounded up")
        var losses: [Double] = []
        try trainer.run(onStep: { losses.append($0.loss) })
        XCTAssertEqual(losses.count, 6)
        XCTAssertTrue(losses.allSatisfy { $0.isFinite && $0 > 0 })
    }

    /// The metrics' fractional epoch counts each epoch's own steps: epochs of the no-duplicates sampler
    /// differ in length (rows sharing a text push batches apart), and a run of E epochs ends at epoch E.
    func testEpochPositionFollowsEachEpochsLength() throws {
        var c = TrainingConfiguration()
        c.batchSize = 4; c.epochs = 4
        // 14 rows, 5 of them sharing one anchor: no batch holds two of those, so epochs vary in length.
        var rows = data(rows: 14).rows
        for i in 0..<5 { rows[i][0] = "the same anchor" }
        let plan = StepPlan(rows: rows, configuration: c)
        let lengths = Dictionary(grouping: plan.map { $0[0].epoch }, by: { $0 }).mapValues(\.count)
        XCTAssertGreaterThan(Set(lengths.values).count, 1, "the epochs must differ in length for this test to mean anything: \(lengths)")
        let positions = (0..<plan.count).map { plan.epochPosition(afterStep: $0) }
        XCTAssertEqual(positions.last ?? 0, 4, accuracy: 1e-12)
        var step = 0
        for epoch in 0..<4 {
            step += lengths[epoch]!
            XCTAssertEqual(positions[step - 1], Double(epoch + 1), accuracy: 1e-12, "epoch \(epoch) ends at a whole number")
        }
        XCTAssertEqual(positions, positions.sorted(), "never goes back")
    }

    func testMaxStepsWinsAndCyclesEpochs() throws {
        var c = TrainingConfiguration()
        c.batchSize = 8; c.maxSteps = 7
        let trainer = try Trainer(model: try SentenceModel(folder: TrainingPaths.tinyBert), loss: try MultipleNegativesRankingLoss(),
                                  data: data(rows: 16), configuration: c)
        XCTAssertEqual(trainer.totalSteps, 7)
        XCTAssertEqual(trainer.plan.map { $0[0].epoch }, [0, 0, 1, 1, 2, 2, 3])
        // Each epoch is reshuffled: epoch 1's first batch differs from epoch 0's.
        XCTAssertNotEqual(trainer.plan[0][0].rows, trainer.plan[2][0].rows)
    }

    /// The plan is lazy: ten million steps cost one epoch of memory (not an array of steps), and a later
    /// step and its first micro-step (which keys dropout) are found by walking epochs, not steps.
    func testAHugePlanIsLazyAndAgreesWithWalkingIt() throws {
        var c = TrainingConfiguration()
        c.batchSize = 3; c.maxSteps = 10_000_000; c.gradientAccumulationSteps = 2
        let rows = data(rows: 10).rows
        let plan = StepPlan(rows: rows, configuration: c)
        XCTAssertEqual(plan.count, 10_000_000)
        // 10 rows in batches of 3 → 4 batches per epoch → 2 steps of 2 batches per epoch.
        XCTAssertEqual(plan.stepsPerEpoch, 2)
        XCTAssertEqual(plan[19_999].map(\.epoch), [9_999, 9_999])
        XCTAssertEqual(plan.firstMicroStep(of: 19_999), 4 * 9_999 + 2)
        // Walking the first steps gives what a fresh plan gives, batch for batch.
        var micro = 0
        for step in 0..<20 {
            let walked = plan[step]
            let fresh = StepPlan(rows: rows, configuration: c)[step]
            XCTAssertEqual(walked.map(\.rows), fresh.map(\.rows))
            XCTAssertEqual(plan.firstMicroStep(of: step), micro)
            micro += walked.count
        }
    }
}
