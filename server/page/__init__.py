"""The built page served by this server, with the canvas drawn into it for each request."""
