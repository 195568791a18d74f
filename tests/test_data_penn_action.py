"""Penn Action reader on fixture .mat files in the release's format."""

import numpy as np
import pytest
import scipy.io

from chiral_jax.data.errors import DatasetFileError, MalformedDatasetFile, MissingDatasetFile
from chiral_jax.data.fixtures import PENN_ACTION_VIDEOS, write_penn_action
from chiral_jax.data.penn_action import (
    ACTIONS,
    PENN_ACTION_HELP,
    PennActionVideo,
    load_penn_action,
    read_penn_action_video,
)

URL = "dreamdragon.github.io/PennAction"


def _rewrite(folder, video_id, written, **changes):
    """Rewrites one fixture file with some fields changed (None: removed)."""
    mat = dict(written[video_id])
    for k, v in changes.items():
        if v is None:
            mat.pop(k)
        else:
            mat[k] = v
    path = folder / "labels" / f"{video_id}.mat"
    scipy.io.savemat(str(path), mat)
    return path


def test_actions_are_the_15_classes_in_order():
    assert len(ACTIONS) == 15 and ACTIONS[0] == "baseball_pitch" and ACTIONS[-1] == "tennis_serve"
    assert list(ACTIONS) == sorted(ACTIONS)


def test_round_trip_values_equal_what_was_written(tmp_path):
    written = write_penn_action(tmp_path)
    data = load_penn_action(tmp_path)
    videos = {v.video_id: v for split in data.values() for v in split}
    assert set(videos) == set(written)
    for vid, mat in written.items():
        v = videos[vid]
        t = mat["nframes"]
        assert v.num_frames == t and v.key == vid
        assert (v.action, v.view, v.train) == (mat["action"], mat["pose"], mat["train"] == 1)
        assert v.image_size == (int(mat["dimensions"][1]), int(mat["dimensions"][0]))
        assert v.keypoints_px.dtype == np.float32 and v.keypoints_px.shape == (t, 13, 2)
        np.testing.assert_array_equal(v.keypoints_px[..., 0], mat["x"].astype(np.float32))
        np.testing.assert_array_equal(v.keypoints_px[..., 1], mat["y"].astype(np.float32))
        assert v.visibility.dtype == bool
        np.testing.assert_array_equal(v.visibility, mat["visibility"] == 1)
        rows = len(mat["bbox"])
        assert v.bbox.shape == (t, 4) and v.bbox.dtype == np.float32
        np.testing.assert_array_equal(v.bbox[:rows], mat["bbox"].astype(np.float32))
        # Fewer bbox rows than frames (video 0003): padded by repeating the last row.
        np.testing.assert_array_equal(v.bbox[rows:], np.repeat(v.bbox[rows - 1 : rows], t - rows, axis=0))
    assert len(written["0003"]["bbox"]) < written["0003"]["nframes"]
    assert not all(v.visibility.all() for v in videos.values())


def test_splits_follow_the_train_flag_and_are_sorted(tmp_path):
    write_penn_action(tmp_path)
    data = load_penn_action(tmp_path)
    train = [vid for vid, _, _, is_train, _, _ in PENN_ACTION_VIDEOS if is_train]
    test = [vid for vid, _, _, is_train, _, _ in PENN_ACTION_VIDEOS if not is_train]
    assert [v.video_id for v in data["train"]] == sorted(train)
    assert [v.video_id for v in data["test"]] == sorted(test)
    assert all(v.train for v in data["train"]) and not any(v.train for v in data["test"])


def test_manual_dir_is_labels_or_its_parent(tmp_path):
    write_penn_action(tmp_path)
    a = load_penn_action(tmp_path)
    b = load_penn_action(tmp_path / "labels")
    for split in ("train", "test"):
        assert [v.video_id for v in a[split]] == [v.video_id for v in b[split]]
        for x, y in zip(a[split], b[split], strict=True):
            np.testing.assert_array_equal(x.keypoints_px, y.keypoints_px)


def test_example_round_trip(tmp_path):
    write_penn_action(tmp_path)
    video = load_penn_action(tmp_path)["train"][1]
    ex = video.to_example()
    assert ex["keypoints_px"].dtype == np.float32 and ex["visibility"].dtype == bool
    assert ex["image_size"].dtype == np.int32 and ex["image_size"].tolist() == list(video.image_size)
    # As TFDS gives them back: bytes for strings, the action as its ClassLabel index.
    stored = dict(ex, video_id=ex["video_id"].encode(), view=ex["view"].encode())
    for action in (ex["action"], ex["action"].encode(), np.int64(ACTIONS.index(ex["action"]))):
        back = PennActionVideo.from_example(dict(stored, action=action))
        assert (back.video_id, back.action, back.view, back.train) == (
            video.video_id,
            video.action,
            video.view,
            video.train,
        )
        assert back.image_size == video.image_size and back.num_frames == video.num_frames
        for name in ("keypoints_px", "visibility", "bbox"):
            np.testing.assert_array_equal(getattr(back, name), getattr(video, name))
    assert video.action_index == ACTIONS.index(video.action)


def test_single_frame_and_single_bbox_row_survive_squeezing(tmp_path):
    written = write_penn_action(tmp_path, videos=(("0042", "bowl", "front", True, 3, 1),))
    mat = written["0042"]
    path = _rewrite(
        tmp_path,
        "0042",
        written,
        x=mat["x"][:1],
        y=mat["y"][:1],
        visibility=mat["visibility"][:1],
        nframes=1,
        dimensions=np.array([480, 640, 1]),
    )
    v = read_penn_action_video(path)
    assert v.num_frames == 1 and v.keypoints_px.shape == (1, 13, 2) and v.bbox.shape == (1, 4)
    np.testing.assert_array_equal(v.keypoints_px[0, :, 0], mat["x"][0].astype(np.float32))


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(MissingDatasetFile) as err:
        load_penn_action(tmp_path / "Penn_Action")
    msg = str(err.value)
    assert str(tmp_path / "Penn_Action") in msg and "labels/" in msg and URL in msg and "0001.mat" in msg
    (tmp_path / "labels").mkdir()
    with pytest.raises(MissingDatasetFile, match=r"no \.mat label files") as err:
        load_penn_action(tmp_path)
    assert str(tmp_path / "labels") in str(err.value) and PENN_ACTION_HELP in str(err.value)


def test_unreadable_file(tmp_path):
    write_penn_action(tmp_path)
    (tmp_path / "labels" / "0002.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(MalformedDatasetFile) as err:
        load_penn_action(tmp_path)
    msg = str(err.value)
    assert "0002.mat" in msg and "can not read it as a .mat file" in msg and URL in msg


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (lambda m: {"visibility": None}, r"missing field\(s\) \['visibility'\]"),
        (lambda m: {"x": m["x"][:, :12]}, r"'x' has shape \(30, 12\), expected \(30, 13\)"),
        (lambda m: {"y": m["y"][:-1]}, r"'y' has shape \(29, 13\), expected \(30, 13\)"),
        (
            lambda m: {"visibility": m["visibility"].T},
            r"'visibility' has shape \(13, 30\), expected \(30, 13\)",
        ),
        (lambda m: {"visibility": m["visibility"] * 2}, r"'visibility' holds values \[0, 2\], expected 0/1"),
        (
            lambda m: {"bbox": np.concatenate([m["bbox"]] * 2)},
            r"'bbox' has shape \(60, 4\), expected \(<=30, 4\)",
        ),
        (lambda m: {"bbox": m["bbox"][:, :3]}, r"'bbox' has shape \(30, 3\)"),
        (lambda m: {"nframes": 0}, r"'nframes' is 0.0, expected a positive integer"),
        (
            lambda m: {"dimensions": np.array([480])},
            r"'dimensions' has shape \(\) dtype int64, expected \[H W T\]",
        ),
        (lambda m: {"train": 0}, r"'train' is 0, expected 1 \(train\) or -1 \(test\)"),
        (lambda m: {"action": "dance"}, r"'action' is 'dance', expected one of \['baseball_pitch'"),
        (lambda m: {"action": np.zeros((2, 2))}, r"'action' is ndarray float64 \(2, 2\), expected a string"),
    ],
)
def test_malformed_fields_name_file_field_and_expectation(tmp_path, change, expect):
    written = write_penn_action(tmp_path)
    path = _rewrite(tmp_path, "0002", written, **change(written["0002"]))
    with pytest.raises(MalformedDatasetFile, match=expect) as err:
        load_penn_action(tmp_path)
    assert isinstance(err.value, DatasetFileError) and err.value.path == path.absolute()
    msg = str(err.value)
    assert "0002.mat" in msg and "x, y (T, 13)" in msg and URL in msg
