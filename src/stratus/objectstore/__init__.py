"""The object store: the Swift v1 and S3 APIs over replicated storage servers."""
