"""Fine-tuning: the recipe (train), mixed precision, data parallel, training throughput and MFU, and the cross-backend check."""
