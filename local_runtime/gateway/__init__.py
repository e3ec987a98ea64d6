"""A local API Gateway: routes from serverless.yml, HTTP API v2 events, Lambda handlers."""
