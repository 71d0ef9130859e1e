"""Other services that hold the conversations, bridged by this server (Twilio Conversations)."""
