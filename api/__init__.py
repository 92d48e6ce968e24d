"""The HTTP boundary: routes, auth, request/response schemas, problem-JSON errors, OpenAPI."""
