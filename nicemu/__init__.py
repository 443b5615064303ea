"""nicemu: the far end of a QEMU guest's network card, modelled on the NDIS stack."""

__version__ = "0.1.0"
