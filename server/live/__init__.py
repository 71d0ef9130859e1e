"""What is live across requests: the broker, stream slots, upload locks; in the process or in Redis."""
