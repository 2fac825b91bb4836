/// Ember's version: shown by `ember --version` and recorded in the model cards and reports a run writes,
/// so a saved folder says which Ember produced it. Bump it with every release.
public let emberVersion = "0.1.0"
