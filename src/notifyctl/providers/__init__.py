"""Platform adapters. ``base`` holds the registry; each sub-package is one platform."""
