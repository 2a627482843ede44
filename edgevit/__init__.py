"""edgevit: fine-tune a Vision Transformer, export it for devices, verify and benchmark every artifact."""

__version__ = "0.1.0"
