"""Importing this package registers every model family with cnnzoo.registry."""
from cnnzoo.models import densenet, gan, inception, resnet, simple, vgg, wide_resnet  # noqa: F401
