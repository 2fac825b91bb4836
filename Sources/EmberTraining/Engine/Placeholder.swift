// The trainer lands here.
