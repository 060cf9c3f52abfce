"""Classical baselines and their metrics, each checked against a reference computed another way."""
from __future__ import annotations

import numpy as np
import pytest

from altair.errors import AltairError
from altair.evaluation.baselines import (BaselineError, fit_class_means, majority_class,
                                         nearest_class_mean, otsu_segment, otsu_threshold)
from altair.evaluation.forest import (fit_random_forest, predict_random_forest, scene_features,
                                      stratified_sample, volume_features)
from altair.evaluation.scores import accuracy, confusion, dice, iou, miou


# ----------------------------------------------------------------------------- Otsu references


def _between_class_variance(values: np.ndarray, t: float) -> float:
    """Exact between-class variance of the split ``<= t`` / ``> t``, as total minus within-class variance."""
    low, high = values[values <= t], values[values > t]
    if low.size == 0 or high.size == 0:
        return -np.inf
    w0, w1 = low.size / values.size, high.size / values.size
    return float(values.var() - (w0 * low.var() + w1 * high.var()))


def _brute_force_otsu(values: np.ndarray) -> tuple[float, float]:
    """Try every distinct value as the threshold; return the best one and its between-class variance."""
    values = values.astype(np.float64).ravel()
    candidates = np.unique(values)[:-1]
    scores = [_between_class_variance(values, t) for t in candidates]
    best = int(np.argmax(scores))
    return float(candidates[best]), scores[best]


def _bimodal(rng: np.random.Generator, n: int, modes, weights) -> np.ndarray:
    sizes = rng.multinomial(n, weights)
    return np.concatenate([rng.normal(m, s, k) for (m, s), k in zip(modes, sizes)])


def test_otsu_float_reaches_the_brute_force_optimum():
    values = _bimodal(np.random.default_rng(0), 3000, [(0.3, 0.05), (0.7, 0.08)], [0.6, 0.4])
    t_ref, var_ref = _brute_force_otsu(values)
    t = otsu_threshold(values, bins=1024)
    bin_width = np.ptp(values) / 1024
    # The histogram can only split at bin edges, so the optimum is reached up to a bin.
    assert _between_class_variance(values, t) >= var_ref * (1 - 1e-5)
    assert abs(t - t_ref) <= 2 * bin_width
    assert 0.4 < t < 0.6


def test_otsu_uint16_with_one_bin_per_value_is_exact():
    rng = np.random.default_rng(1)
    values = np.clip(_bimodal(rng, 4000, [(1200, 60), (1650, 90)], [0.3, 0.7]), 1000, 1900)
    values = values.round().astype(np.uint16)  # range 901 < 1024 bins: one bin per value
    t_ref, _ = _brute_force_otsu(values)
    assert otsu_threshold(values) == t_ref


def test_otsu_uint16_full_range_with_wide_bins():
    rng = np.random.default_rng(2)
    values = np.clip(_bimodal(rng, 3000, [(15000, 4000), (47000, 6000)], [0.5, 0.5]), 0, 65535)
    values = values.round().astype(np.uint16)
    t_ref, var_ref = _brute_force_otsu(values)
    t = otsu_threshold(values, bins=1024)
    width = np.ceil((int(values.max()) - int(values.min()) + 1) / 1024)
    assert t == int(t)  # integer data gives an integer threshold
    assert _between_class_variance(values.astype(np.float64), t) >= var_ref * (1 - 1e-5)
    assert abs(t - t_ref) <= 2 * width


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_otsu_uint8_matches_opencv(seed):
    cv2 = pytest.importorskip('cv2')
    rng = np.random.default_rng(seed)
    image = np.clip(_bimodal(rng, 64 * 64, [(70, 15), (170, 25)], [0.55, 0.45]), 0, 255)
    image = image.round().astype(np.uint8).reshape(64, 64)
    t_cv, _ = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    assert abs(otsu_threshold(image) - t_cv) <= 1


def test_otsu_constant_input_returns_the_constant():
    assert otsu_threshold(np.full((4, 5), 7, dtype=np.uint16)) == 7.0
    assert otsu_threshold(np.full(10, 0.25, dtype=np.float32)) == 0.25


def test_otsu_ignores_masked_and_non_finite_values():
    values = _bimodal(np.random.default_rng(3), 2000, [(0.2, 0.05), (0.8, 0.05)], [0.5, 0.5])
    clean = otsu_threshold(values)
    polluted = np.concatenate([values, np.full(500, 1e6), [np.nan, np.inf]])
    valid = np.arange(polluted.size) < values.size
    assert otsu_threshold(polluted, valid=valid) == clean
    # Without the mask the outliers dominate: the check above is not vacuous.
    assert otsu_threshold(np.concatenate([values, np.full(500, 1e6)])) > 1.0
    # NaN and inf never count, with or without a mask.
    assert otsu_threshold(np.concatenate([values, [np.nan, np.inf, -np.inf]])) == clean


def test_otsu_rejects_bad_input():
    with pytest.raises(BaselineError, match='bins'):
        otsu_threshold(np.arange(10), bins=1)
    with pytest.raises(BaselineError, match='no valid'):
        otsu_threshold(np.arange(10.0), valid=np.zeros(10, dtype=bool))
    with pytest.raises(AltairError, match=r'\(3,\)'):
        otsu_threshold(np.arange(10.0), valid=np.ones(3, dtype=bool))


# ----------------------------------------------------------------------------- Otsu segmentation


def _dark_objects(rng: np.random.Generator, *, offset: float = 0.0):
    """Dark foreground objects (~60) on a bright background (~180), plus ``offset``."""
    shape = (48, 48)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[10:30, 5:25] = 1
    labels[35:45, 30:46] = 1
    image = np.where(labels == 1, rng.normal(60, 12, shape), rng.normal(180, 15, shape)) + offset
    return image.astype(np.float32), labels


def test_otsu_segment_fits_threshold_and_polarity_on_training_data_only():
    train_image, train_labels = _dark_objects(np.random.default_rng(10))
    train_labels[:4] = 255  # ignored rows hold garbage that would wreck the threshold if counted
    train_image[:4] = 1e4
    val_image, val_labels = _dark_objects(np.random.default_rng(11), offset=15.0)

    pred = otsu_segment(val_image, train_image=train_image, train_labels=train_labels)

    t_train = otsu_threshold(train_image, valid=train_labels != 255)
    assert 60 < t_train < 180
    assert pred.dtype == np.uint8 and pred.shape == val_image.shape
    np.testing.assert_array_equal(pred, (val_image <= t_train).astype(np.uint8))
    # The validation image's own threshold would give another map, so the check above discriminates.
    t_val = otsu_threshold(val_image)
    assert ((val_image <= t_val) != (val_image <= t_train)).any()
    assert dice(confusion(pred, val_labels, num_classes=2)) > 0.95
    # Unfitted, Otsu takes bright as foreground: the wrong polarity for dark objects.
    assert dice(confusion(otsu_segment(val_image), val_labels, num_classes=2)) < 0.1


def test_otsu_segment_bright_foreground_polarity_from_training():
    train_image, train_labels = _dark_objects(np.random.default_rng(12))
    inverted = 1 - train_labels  # now the bright background is the foreground
    pred = otsu_segment(train_image, train_image=train_image, train_labels=inverted)
    np.testing.assert_array_equal(pred, (train_image > otsu_threshold(train_image)).astype(np.uint8))


def test_otsu_segment_without_training_and_overrides():
    image, _ = _dark_objects(np.random.default_rng(13))
    t = otsu_threshold(image)
    np.testing.assert_array_equal(otsu_segment(image), image > t)
    np.testing.assert_array_equal(otsu_segment(image, threshold=100.0, foreground_bright=False),
                                  image <= 100.0)
    stacked = np.stack([np.random.default_rng(0).random(image.shape), image], axis=-1)
    np.testing.assert_array_equal(otsu_segment(stacked, band=1), otsu_segment(image))
    with_nan = image.copy()
    with_nan[0, 0], with_nan[0, 1] = np.nan, np.inf
    seg = otsu_segment(with_nan, threshold=t)
    assert seg[0, 0] == 0 and seg[0, 1] == 0


def test_otsu_segment_rejects_bad_input():
    image, labels = _dark_objects(np.random.default_rng(14))
    with pytest.raises(BaselineError, match='train_image'):
        otsu_segment(image, train_labels=labels)
    with pytest.raises(BaselineError, match=r'\[2\]'):
        otsu_segment(image, train_image=image, train_labels=labels * 2)
    with pytest.raises(BaselineError, match='band 5'):
        otsu_segment(np.stack([image, image], -1), band=5)
    with pytest.raises(BaselineError, match='foreground'):
        otsu_segment(image, train_image=image, train_labels=np.zeros_like(labels))


# ----------------------------------------------------------------------------- nearest class mean

CENTRES = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 5.0], [0.0, 10.0, -5.0], [10.0, 10.0, 10.0]])


def _synthetic(rng: np.random.Generator, classes, shape=(24, 20)):
    labels = rng.choice(classes, size=shape).astype(np.uint8)
    image = CENTRES[labels] + rng.normal(0, 0.5, shape + (3,))
    return image.astype(np.float32), labels


def _training_set():
    rng = np.random.default_rng(20)
    images, labels = [], []
    for shape in [(24, 20), (16, 30), (10, 10)]:
        image, label = _synthetic(rng, [0, 1, 3], shape)  # class 2 never in training
        label[:2] = 255
        image[:2] = 1e4  # ignored pixels must not enter any statistic
        images.append(image)
        labels.append(label)
    return images, labels


def test_fit_class_means_matches_pooled_statistics():
    images, labels = _training_set()
    means, std = fit_class_means((i for i in images), (l for l in labels), num_classes=4,
                                 return_std=True)  # generators: streamed, never concatenated
    pixels = np.concatenate([i[l != 255] for i, l in zip(images, labels)]).astype(np.float64)
    classes = np.concatenate([l[l != 255] for l in labels])
    assert means.shape == (4, 3) and means.dtype == np.float64
    for k in (0, 1, 3):
        np.testing.assert_allclose(means[k], pixels[classes == k].mean(axis=0), rtol=1e-10, atol=1e-10)
    assert np.isnan(means[2]).all()
    np.testing.assert_allclose(std, pixels.std(axis=0), rtol=1e-10)
    np.testing.assert_array_equal(fit_class_means(images, labels, num_classes=4), means)


def test_nearest_class_mean_recovers_separated_classes_and_skips_absent_ones():
    images, labels = _training_set()
    means = fit_class_means(images, labels, num_classes=4)
    val_image, val_labels = _synthetic(np.random.default_rng(21), [0, 1, 3])
    pred = nearest_class_mean(val_image, means)
    assert pred.dtype == np.uint8
    np.testing.assert_array_equal(pred, val_labels)
    # Pixels sitting exactly on the absent class's centre still get a trained class.
    with_absent, labels_absent = _synthetic(np.random.default_rng(22), [0, 1, 2, 3])
    with_absent[labels_absent == 2] = CENTRES[2]
    pred = nearest_class_mean(with_absent, means)
    assert (labels_absent == 2).any() and 2 not in pred
    np.testing.assert_array_equal(pred[labels_absent != 2], labels_absent[labels_absent != 2])


def test_nearest_class_mean_matches_broadcast_argmin_with_scale():
    rng = np.random.default_rng(23)
    means = rng.normal(0, 1, (5, 4)) * np.array([1.0, 100.0, 1.0, 0.01])
    means[3] = np.nan
    image = rng.normal(0, 1, (15, 17, 4)) * np.array([1.0, 100.0, 1.0, 0.01])
    scale = np.array([1.0, 100.0, 1.0, 0.01])
    dist = (((image[:, :, None, :] - means[None, None]) / scale) ** 2).sum(-1)  # (H, W, K)
    dist[..., 3] = np.inf
    expected = dist.argmin(-1)
    pred = nearest_class_mean(image, means, scale=scale)
    np.testing.assert_array_equal(pred, expected)
    assert (nearest_class_mean(image, means) != pred).any()  # the scale changes the answer


def test_class_statistics_reject_bad_input():
    images, labels = _training_set()
    with pytest.raises(BaselineError, match=r'\[7\]'):
        fit_class_means(images[:1], [np.full_like(labels[0], 7)], num_classes=4)
    with pytest.raises(BaselineError, match='length'):
        fit_class_means(images, labels[:2], num_classes=4)
    with pytest.raises(BaselineError, match='bands'):
        nearest_class_mean(images[0], np.zeros((4, 2)))
    with pytest.raises(BaselineError, match='NaN'):
        nearest_class_mean(images[0], np.full((4, 3), np.nan))


# ----------------------------------------------------------------------------- majority class


def test_majority_class_ignores_ignored_pixels():
    a = np.full((10, 10), 255, dtype=np.uint8)
    a[0, :6] = 1
    a[1, :4] = 2
    b = np.full((5, 5), 255, dtype=np.uint8)
    b[0, :3] = 2
    b[1, :2] = 0
    # Valid counts: 0 -> 2, 1 -> 6, 2 -> 7; ignore (255) outnumbers them all.
    assert majority_class([a, b], num_classes=3) == 2
    b[0, :3] = 1
    assert majority_class(iter([a, b]), num_classes=3) == 1
    with pytest.raises(BaselineError, match='255'):  # with another ignore_index, 255 is a bad label
        majority_class([a], num_classes=3, ignore_index=0)


def test_majority_class_rejects_bad_labels():
    with pytest.raises(BaselineError, match=r'\[7\]'):
        majority_class([np.array([[0, 7]])], num_classes=3)
    with pytest.raises(BaselineError, match='no labelled'):
        majority_class([np.full((2, 2), 255)], num_classes=3)


# ----------------------------------------------------------------------------- metrics


def _random_maps(seed: int = 30):
    rng = np.random.default_rng(seed)
    gt = rng.choice([0, 1, 2, 255], size=(20, 25), p=[0.4, 0.3, 0.2, 0.1])
    pred = np.where(rng.random(gt.shape) < 0.7, np.where(gt == 255, 0, gt), rng.choice(4, size=gt.shape))
    return pred, gt  # K = 5: class 3 only in pred, class 4 nowhere


def test_confusion_matches_pixel_loop():
    pred, gt = _random_maps()
    expected = np.zeros((5, 5), dtype=np.int64)
    for p, g in zip(pred.ravel(), gt.ravel()):
        if g != 255:
            expected[g, p] += 1
    conf = confusion(pred, gt, num_classes=5)
    assert conf.dtype == np.int64
    np.testing.assert_array_equal(conf, expected)


def test_miou_dice_accuracy_match_explicit_loops():
    pred, gt = _random_maps()
    conf = confusion(pred, gt, num_classes=5)
    valid = gt != 255
    ious = []
    for k in range(5):
        inter = np.sum((pred == k) & (gt == k) & valid)
        union = np.sum(((pred == k) | (gt == k)) & valid)
        if union > 0:
            ious.append(inter / union)
    assert len(ious) == 4  # class 4 is in neither map and must not count
    assert miou(conf) == pytest.approx(100 * np.mean(ious), abs=1e-10)
    for cls in (1, 2):
        a, b = (pred == cls) & valid, (gt == cls) & valid
        assert dice(conf, cls=cls) == pytest.approx(2 * np.sum(a & b) / (a.sum() + b.sum()), abs=1e-12)
    assert accuracy(conf) == pytest.approx(100 * np.mean(pred[valid] == gt[valid]), abs=1e-10)
    assert np.isnan(dice(conf, cls=4))


def test_miou_matches_mmseg_iou_metric():
    torch = pytest.importorskip('torch')
    metrics = pytest.importorskip('mmseg.evaluation.metrics')
    pred, gt = _random_maps(31)
    inter, union, area_pred, area_gt = metrics.IoUMetric.intersect_and_union(
        torch.from_numpy(pred), torch.from_numpy(gt), 5, 255)
    result = metrics.IoUMetric.total_area_to_metrics(inter, union, area_pred, area_gt, ['mIoU'])
    conf = confusion(pred, gt, num_classes=5)
    assert miou(conf) == pytest.approx(float(np.nanmean(result['IoU'])) * 100, abs=1e-6)
    assert accuracy(conf) == pytest.approx(float(result['aAcc']) * 100, abs=1e-6)


def test_metrics_reject_bad_input():
    pred, gt = _random_maps()
    with pytest.raises(BaselineError, match=r'\[7\]'):
        confusion(np.where(gt == 1, 7, pred), gt, num_classes=5)
    with pytest.raises(BaselineError, match='shape'):
        confusion(pred[:3], gt, num_classes=5)
    with pytest.raises(BaselineError, match='cls 9'):
        dice(np.eye(2, dtype=np.int64), cls=9)
    assert np.isnan(miou(np.zeros((3, 3)))) and np.isnan(accuracy(np.zeros((3, 3))))


def test_iou_matches_explicit_sets_and_mmseg():
    pred, gt = _random_maps(32)
    conf = confusion(pred, gt, num_classes=5)
    valid = gt != 255
    for cls in range(4):
        a, b = (pred == cls) & valid, (gt == cls) & valid
        assert iou(conf, cls=cls) == pytest.approx(100 * np.sum(a & b) / np.sum(a | b), abs=1e-10)
    assert np.isnan(iou(conf, cls=4))
    torch = pytest.importorskip('torch')
    metrics = pytest.importorskip('mmseg.evaluation.metrics')
    inter, union, *_ = metrics.IoUMetric.intersect_and_union(
        torch.from_numpy(pred), torch.from_numpy(gt), 5, 255)
    # mmseg's intersection and union counts (it divides them in float32, so divide here)
    assert iou(conf, cls=2) == pytest.approx(float(inter[2]) / float(union[2]) * 100, abs=1e-9)
    with pytest.raises(BaselineError, match='cls 9'):
        iou(conf, cls=9)


# ------------------------------------------------------------------- random forest


def test_scene_features_are_the_bands_in_row_major_order():
    image = np.arange(2 * 3 * 2, dtype=np.float64).reshape(2, 3, 2)
    image[1, 2, 0] = np.nan
    feats = scene_features(image)
    assert feats.dtype == np.float32 and feats.shape == (6, 2)
    assert feats[4].tolist() == image[1, 1].tolist() and feats[5].tolist() == [0.0, 11.0]
    assert scene_features(np.ones((4, 5), np.uint16)).shape == (20, 1)


def test_volume_features_match_a_pixel_loop():
    rng = np.random.default_rng(40)
    image = rng.random((3, 5, 1)).astype(np.float32)
    feats = volume_features(image, index=2, depth=8)
    expected = [[image[r, c, 0], 2 / 8, r / 3, c / 5] for r in range(3) for c in range(5)]
    np.testing.assert_allclose(feats, np.array(expected, np.float32), rtol=0, atol=1e-7)
    with pytest.raises(BaselineError, match='index 8'):
        volume_features(image, index=8, depth=8)
    with pytest.raises(BaselineError, match='one channel'):
        volume_features(np.zeros((3, 5, 2)), index=0, depth=1)


def test_stratified_sample_keeps_each_class_share_and_skips_ignored():
    labels = np.repeat(np.array([0, 1, 2, 255]), [9000, 990, 10, 500])
    np.random.default_rng(41).shuffle(labels)
    idx = stratified_sample(labels, max_samples=1000, seed=3)
    assert idx.size == len(np.unique(idx)) <= 1000
    assert np.all(np.diff(idx) > 0)
    counts = np.bincount(labels[idx], minlength=256)
    assert counts[:3].tolist() == [900, 99, 1] and counts[255] == 0  # floor(n_k * 1000 / 10000)
    assert np.array_equal(idx, stratified_sample(labels, max_samples=1000, seed=3))
    assert not np.array_equal(idx, stratified_sample(labels, max_samples=1000, seed=4))
    # fewer labelled pixels than max_samples: all of them
    assert np.array_equal(stratified_sample(labels, max_samples=10**6),
                          np.flatnonzero(labels != 255))
    # a class too rare for its floor share still gets one pixel, taken from the largest
    rare = np.repeat(np.array([0, 1]), [9999, 1])
    assert np.bincount(rare[stratified_sample(rare, max_samples=100)]).tolist() == [99, 1]
    with pytest.raises(BaselineError, match='one pixel of each'):
        stratified_sample(labels, max_samples=2)
    with pytest.raises(BaselineError, match='no labelled pixel'):
        stratified_sample(np.full(5, 255), max_samples=2)


def _separable(rng: np.random.Generator, n: int):
    """Three classes decided by thresholds on the first of three features (others noise)."""
    x = rng.random((n, 3)).astype(np.float32)
    y = np.digitize(x[:, 0], [0.3, 0.7]).astype(np.int64)
    return x, y


def test_random_forest_recovers_a_separable_problem():
    pytest.importorskip('sklearn')
    rng = np.random.default_rng(42)
    x, y = _separable(rng, 3000)
    y[:200] = 255  # ignored pixels with features of every class: never fitted on
    model = fit_random_forest(x, y, max_samples=1000, n_trees=10, n_jobs=1, seed=0)
    assert model.classes_.tolist() == [0, 1, 2]
    x_test, y_test = _separable(rng, 2000)
    margin = np.min(np.abs(x_test[:, :1] - [0.3, 0.7]), axis=1) > 0.02
    pred = predict_random_forest(model, x_test)
    assert pred.dtype == np.uint8
    assert np.array_equal(pred[margin], y_test[margin])


def test_random_forest_matches_sklearn_on_the_same_subsample():
    sklearn_ensemble = pytest.importorskip('sklearn.ensemble')
    rng = np.random.default_rng(43)
    x = rng.normal(size=(2500, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=2500) > 0.8).astype(np.int64)  # overlapping classes
    model = fit_random_forest(x, y, max_samples=800, n_trees=7, n_jobs=2, seed=5)
    keep = stratified_sample(y, max_samples=800, seed=5)
    reference = sklearn_ensemble.RandomForestClassifier(n_estimators=7, random_state=5)
    reference.fit(x[keep], y[keep])
    x_test = rng.normal(size=(40, 50, 4)).astype(np.float32)
    pred = predict_random_forest(model, x_test.reshape(-1, 4), shape=(40, 50), chunk=333)
    assert pred.shape == (40, 50)
    assert np.array_equal(pred.ravel(), reference.predict(x_test.reshape(-1, 4)))
    with pytest.raises(BaselineError, match='features must be'):
        fit_random_forest(x[:10], y, n_trees=2)
