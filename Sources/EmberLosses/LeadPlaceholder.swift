// (lead) keeps the target non-empty until the losses land; delete when they do.
