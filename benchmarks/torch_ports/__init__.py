"""PyTorch ports the parity benchmarks train beside the project's nets (needs the ``parity`` extra:
``pip install -e ".[parity]"``). Not part of the library: ``benchmarks/vp3d_parity.py`` imports them."""
