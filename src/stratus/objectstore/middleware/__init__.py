"""The proxy's optional behaviours, one small ASGI middleware each (Swift's pattern).

Each takes ``(app, cluster)``; ``proxy/pipeline.py`` lists them outermost first.
"""
