"""The content filter family: one analyzer per module, each found by ``signals/catalogue.py``."""
