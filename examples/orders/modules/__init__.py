"""Feature modules: each one has its models, schemas, repository, service and router."""
