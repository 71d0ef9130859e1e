"""Where bytes live: the `Blobs` protocol, a local folder or an S3 bucket, and serving them with ranges."""
