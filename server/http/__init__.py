"""HTTP plumbing every endpoint shares: API errors, strict inputs, JSON bodies, security headers, the query
guard, log redaction, the header deadline."""
