#!/usr/bin/env bash
# Downloads, into ./.whl, the Python 3.12 wheels that benchmarks/gpu_check.sh needs on a GPU machine
# whose image has jax, flax, optax, orbax-checkpoint, chex, numpy, scipy, matplotlib and absl but
# not the data stack (tensorflow-datasets, grain, array-record, ml-collections and their needs).
# Run from the repository root on a machine that reaches PyPI; keep .whl out of git
# (echo /.whl/ >> .git/info/exclude). The versions are the ones this project is tested with.
set -euo pipefail
mkdir -p .whl
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
pkgs=(ml-collections==1.1.0 grain==0.2.18 portpicker==1.6.0 array-record==0.8.6 tensorflow-datasets==4.9.10
  toml==0.10.2 termcolor==3.3.0 tensorflow-metadata==1.21.0 googleapis-common-protos==1.76.0
  simple-parsing==0.1.9 docstring-parser==0.18.0 immutabledict==4.3.1 dm-tree==0.1.10)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plat[@]}" \
  -d .whl "${pkgs[@]}"
# promise ships no wheel: build one from its source (pure Python).
python3 -m pip wheel -q --no-deps -w .whl promise==2.3
du -sh .whl
