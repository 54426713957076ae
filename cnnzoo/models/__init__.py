"""Importing this package registers every model family with cnnzoo.registry."""
from cnnzoo.models import resnet, simple  # noqa: F401
