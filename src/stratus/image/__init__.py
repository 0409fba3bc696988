"""The image service: Glance v2 images, their members and data in a pluggable store."""
