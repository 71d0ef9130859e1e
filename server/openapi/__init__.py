"""The OpenAPI 3.2 document, built from the running config and the wire classes."""
