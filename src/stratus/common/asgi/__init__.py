"""The HTTP edge shared by every API: request ids, error mapping, routing with policy."""
