"""Python client for concord, a Dynamo-style key-value store."""
