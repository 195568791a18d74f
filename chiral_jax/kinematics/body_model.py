"""SMPL-family body models: reading the published files, linear blend skinning.

The SMPL model files are licensed: download them yourself from the SMPL website
(https://smpl.is.tue.mpg.de, after registering; SMPL+H and SMPL-X likewise from their sites) and
pass the file's path; none ships with this package. Both releases are read:

* ``.npz`` (numpy archive): read with ``allow_pickle=False``;
* ``.pkl`` (Python 2 pickle whose arrays are ``chumpy`` objects): read by a restricted unpickler
  that accepts only numpy arrays, scipy sparse matrices and chumpy ``Ch`` objects, turning the
  latter into numpy arrays, so chumpy need not be installed and nothing else gets executed.

Fields used (SMPL's names): ``v_template`` (V, 3), ``shapedirs`` (V, 3, S), ``posedirs``
(V, 3, 9 (J - 1)), ``J_regressor`` (J, V) (dense or sparse), ``weights`` (V, J),
``kintree_table`` (2, J) (first row: parents, the root's any negative or 2^32 - 1), ``f`` (F, 3).

Skinning (SMPL, Loper et al. 2015): ``v_shaped = v_template + shapedirs @ betas``,
``J = J_regressor @ v_shaped``, ``v_posed = v_shaped + posedirs @ vec(R_1.. - I)``, then each vertex
moves by the weighted sum of the joints' rigid transforms ``x -> G_j (x - J_j) + x_j`` with
``G, x`` from :func:`~chiral_jax.kinematics.forward_kinematics` on the rest joints ``J``.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax.kinematics.tree import chain as _tree_chain
from chiral_jax.kinematics.tree import rest_offsets

__all__ = ["BodyModel", "load_body_model", "write_synthetic_body_model"]

Array = jax.Array
_HELP = (
    "an SMPL-family model file (.npz or .pkl with v_template, shapedirs, posedirs, J_regressor, "
    "weights, kintree_table, f), downloaded from the SMPL website after registration"
)
_FIELDS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class _ChumpyStub:
    """Stands in for chumpy objects while unpickling; holds their pickled state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only numpy, scipy.sparse and chumpy (stubbed) globals; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("chumpy"):
            return type(name, (_ChumpyStub,), {"_chumpy": f"{module}.{name}"})
        if module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "_reconstruct",
            "ndarray",
            "dtype",
            "scalar",
        ):
            from numpy._core import multiarray

            return getattr(multiarray if name in ("_reconstruct", "scalar") else np, name)
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix", "coo_matrix"):
            import scipy.sparse

            return getattr(scipy.sparse, name)
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            import copyreg

            return copyreg._reconstructor
        if module in ("__builtin__", "builtins") and name == "object":
            return object
        if module == "_codecs" and name == "encode":  # bytes in protocol-2 pickles written by Python 3
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a body model file")


def _to_numpy(value: Any, path: Path, key: str) -> np.ndarray:
    if isinstance(value, _ChumpyStub):
        state = value.state if isinstance(value.state, dict) else {}
        if isinstance(state.get("x"), np.ndarray):
            return state["x"]
        raise ValueError(
            f"{path}: field {key!r} is a chumpy {getattr(value, '_chumpy', '?')} without an 'x' array; "
            "expected a plain chumpy Ch (convert the file to .npz)"
        )
    if hasattr(value, "toarray"):  # scipy sparse
        return np.asarray(value.toarray())
    return np.asarray(value)


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; expected {_HELP}")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    elif path.suffix == ".pkl":
        with open(path, "rb") as f:
            raw = _RestrictedUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a pickled dict, got {type(raw).__name__}")
    else:
        raise ValueError(f"{path}: unknown extension {path.suffix!r}; expected {_HELP}")
    missing = [k for k in _FIELDS if k not in raw]
    if missing:
        raise ValueError(f"{path}: missing fields {missing}; has {sorted(raw)}; expected {_HELP}")
    return {k: _to_numpy(raw[k], path, k) for k in _FIELDS}


@dataclasses.dataclass(frozen=True, eq=False)
class BodyModel:
    """An SMPL-family model (arrays float32, numpy; see the module docstring).

    Attributes:
      v_template: (V, 3). shapedirs: (V, 3, S). posedirs: (V, 3, 9 (J - 1)).
      j_regressor: (J, V). weights: (V, J). parents: (J,) int, -1 at the root. faces: (F, 3) int.
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    j_regressor: np.ndarray
    weights: np.ndarray
    parents: tuple[int, ...]
    faces: np.ndarray

    def __post_init__(self) -> None:
        v, j = self.v_template.shape[0], len(self.parents)
        checks = {
            "v_template": (self.v_template.shape, (v, 3)),
            "shapedirs": (self.shapedirs.shape[:2], (v, 3)),
            "posedirs": (self.posedirs.shape, (v, 3, 9 * (j - 1))),
            "J_regressor": (self.j_regressor.shape, (j, v)),
            "weights": (self.weights.shape, (v, j)),
        }
        for name, (got, want) in checks.items():
            if tuple(got) != want:
                raise ValueError(f"BodyModel: {name} has shape {tuple(got)}, expected {want} (V={v}, J={j})")

    @classmethod
    def from_file(cls, path: str | Path) -> BodyModel:
        """Reads an SMPL-family ``.npz`` or ``.pkl`` file."""
        path = Path(path)
        d = _read(path)
        parents = d["kintree_table"][0].astype(np.int64)
        parents = np.where((parents < 0) | (parents >= len(parents)), -1, parents)
        sd = d["shapedirs"].astype(np.float32)
        return cls(
            v_template=d["v_template"].astype(np.float32),
            shapedirs=sd if sd.ndim == 3 else sd[..., None],
            posedirs=d["posedirs"].astype(np.float32),
            j_regressor=d["J_regressor"].astype(np.float32),
            weights=d["weights"].astype(np.float32),
            parents=tuple(int(p) for p in parents),
            faces=d["f"].astype(np.int64),
        )

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[-1])

    def shaped(self, betas: Any) -> tuple[Array, Array]:
        """(vertices (..., V, 3), rest joints (..., J, 3)) of the shape ``betas`` (..., S' <= S)."""
        b = jnp.asarray(betas, jnp.float32)
        if b.shape[-1] > self.num_betas:
            raise ValueError(f"BodyModel: {b.shape[-1]} betas, the model has {self.num_betas}")
        offset = jnp.einsum("vcs,...s->...vc", self.shapedirs[..., : b.shape[-1]], b)
        v = jnp.broadcast_to(jnp.asarray(self.v_template), offset.shape) + offset
        return v, jnp.einsum("jv,...vc->...jc", self.j_regressor, v)

    def rest_joints(self, betas: Any) -> Array:
        """Rest joints (..., J, 3) of a shape."""
        return self.shaped(betas)[1]

    def __call__(self, rotations: Any, betas: Any, translation: Any | None = None) -> dict[str, Array]:
        """Posed mesh: rotations (B, J, 3, 3) local (see :mod:`~chiral_jax.kinematics.tree`), betas (B, S')
        -> {"vertices": (B, V, 3), "joints": (B, J, 3)}; the root at its rest joint plus ``translation``."""
        r = jnp.asarray(rotations, jnp.float32)
        v_shaped, rest = self.shaped(betas)
        batch = r.shape[:-3]
        rest = jnp.broadcast_to(rest, (*batch, *rest.shape[-2:]))
        v_shaped = jnp.broadcast_to(v_shaped, (*batch, *v_shaped.shape[-2:]))
        feat = (
            r[..., 1:, :, :] - jnp.broadcast_to(jnp.eye(3, dtype=r.dtype), r[..., 1:, :, :].shape)
        ).reshape(*batch, -1)
        v_posed = v_shaped + jnp.einsum("vcp,...p->...vc", self.posedirs, feat)

        def fk(rot: Array, rest_j: Array) -> tuple[Array, Array]:
            return _tree_chain(rot, rest_offsets(rest_j, self.parents), self.parents)

        chain = jax.vmap(fk) if batch else fk
        flat_r = r.reshape(-1, *r.shape[-3:]) if batch else r
        flat_rest = rest.reshape(-1, *rest.shape[-2:]) if batch else rest
        g, x = chain(flat_r, flat_rest)
        g = g.reshape(*batch, *g.shape[-3:])
        x = x.reshape(*batch, *x.shape[-2:])
        # Per vertex: sum_j w_vj (G_j (v - J_j) + x_j).
        gw = jnp.einsum("vj,...jab->...vab", self.weights, g)
        tw = jnp.einsum("vj,...ja->...va", self.weights, x - jnp.einsum("...jab,...jb->...ja", g, rest))
        verts = jnp.einsum("...vab,...vb->...va", gw, v_posed) + tw
        if translation is not None:
            t = jnp.asarray(translation, jnp.float32)[..., None, :]
            verts, x = verts + t, x + t
        return {"vertices": verts, "joints": x}


def load_body_model(path: str | Path) -> BodyModel:
    """:meth:`BodyModel.from_file`."""
    return BodyModel.from_file(path)


def write_synthetic_body_model(
    path: str | Path,
    rest_joints: Any,
    parents: Any,
    *,
    num_betas: int = 4,
    vertices_per_bone: int = 6,
    seed: int = 0,
) -> Path:
    """Writes a small made-up model in the SMPL file format (for tests and examples; no real data).

    Vertices sit along each bone (rigidly bound to its start joint, with a little blending to the
    end joint); ``J_regressor`` reproduces ``rest_joints`` exactly from ``v_template``. ``.npz``
    writes a numpy archive; ``.pkl`` writes the chumpy-style pickle of the original release (chumpy
    ``Ch`` objects for ``v_template`` and ``shapedirs``, a scipy sparse ``J_regressor``).
    """
    path = Path(path)
    rest = np.asarray(rest_joints, np.float64)
    parents = np.asarray(parents, np.int64)
    j = len(parents)
    rng = np.random.default_rng(seed)
    verts, weights = list(rest), list(np.eye(j))  # one vertex on each joint
    for c in range(j):
        p = parents[c]
        if p < 0:
            continue
        for k in range(vertices_per_bone):
            a = (k + 0.5) / vertices_per_bone
            verts.append(rest[p] + a * (rest[c] - rest[p]) + 0.01 * rng.standard_normal(3))
            w = np.zeros(j)
            w[p], w[c] = 1.0 - 0.3 * a, 0.3 * a
            weights.append(w)
    v = np.asarray(verts)
    n = len(v)
    regressor = np.zeros((j, n))
    regressor[np.arange(j), np.arange(j)] = 1.0
    shapedirs = 0.01 * rng.standard_normal((n, 3, num_betas))
    shapedirs[:j] = 0.0  # the joint vertices do not move with shape ...
    shapedirs[:j, 2, 0] = 0.02 * rest[:, 2]  # ... except a height scale by the first beta
    posedirs = 0.001 * rng.standard_normal((n, 3, 9 * (j - 1)))
    posedirs[:j] = 0.0
    faces = np.asarray([[i, i + 1, i + 2] for i in range(j, n - 2)], np.int64)
    kintree = np.stack([np.where(parents < 0, 2**32 - 1, parents), np.arange(j)]).astype(np.int64)
    fields = {
        "v_template": v,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": regressor,
        "weights": np.asarray(weights),
        "kintree_table": kintree,
        "f": faces,
    }
    if path.suffix == ".npz":
        np.savez(path, **fields)
    elif path.suffix == ".pkl":
        _write_chumpy_pickle(path, fields)
    else:
        raise ValueError(f"write_synthetic_body_model: {path} must end in .npz or .pkl")
    return path


def _write_chumpy_pickle(path: Path, fields: dict[str, np.ndarray]) -> None:
    """Pickles ``fields`` as the SMPL .pkl release does, with stand-in ``chumpy.ch.Ch`` objects."""
    import scipy.sparse

    mod_root, mod_ch = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x: np.ndarray) -> None:
            self.x = x

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    mod_ch.Ch = Ch
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = mod_root, mod_ch
    try:
        out = dict(fields)
        out["v_template"] = Ch(fields["v_template"])
        out["shapedirs"] = Ch(fields["shapedirs"])
        out["J_regressor"] = scipy.sparse.csc_matrix(fields["J_regressor"])
        with open(path, "wb") as f:
            pickle.dump(out, f, protocol=2)
    finally:
        for k, m in saved.items():
            if m is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = m
