"""nextword's training side: corpus to vocabulary, targets, trained predictor, model bundle."""
