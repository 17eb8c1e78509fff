"""The call path: Twilio webhooks, the media-stream transport, the flow each webhook runs, routing, signatures."""
