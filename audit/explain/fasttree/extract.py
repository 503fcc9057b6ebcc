"""Trees of scikit-learn, XGBoost and LightGBM as one set of flat node arrays.

Each ``*_trees`` function returns a ``Forest``: the trees' nodes concatenated (global ids), how
each node routes a row (threshold or category bitset, where NaN goes), node covers, leaf values
(one column per model output, already scaled the way the model adds them up) and the model's
constant. Anything the kernels could not reproduce exactly raises ``Unsupported``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audit.explain.fasttree.codes import (
    CAT_EXACT,
    CAT_TRUNCATE,
    CATEGORICAL,
    NAN_AS_ZERO,
    NAN_LEFT,
    NUMERIC,
    ZERO_MISSING,
)


class Unsupported(Exception):
    """The model (or this variant of it) is not compiled; the caller uses its fallback."""


@dataclass
class Forest:
    """Flat trees being collected (see the module docstring)."""

    n_features: int
    n_out: int
    float32_input: bool
    constant: np.ndarray
    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    bits: list[np.ndarray] = field(default_factory=list)
    n_bits: int = 0
    n_nodes: int = 0
    roots: list[int] = field(default_factory=list)

    def add(self, left: np.ndarray, right: np.ndarray, feature: np.ndarray, cover: np.ndarray,
            value: np.ndarray, threshold: np.ndarray, flags: np.ndarray,
            kind: np.ndarray | None = None, cat: list[np.ndarray | None] | None = None,
            known: list[np.ndarray | None] | None = None) -> None:  # fmt: skip
        """One tree with local node ids (children ``-1`` at leaves); ``cat`` / ``known`` give
        categorical nodes' left-going and known-category bitsets (uint32 words)."""
        n = len(left)
        leaf = left < 0
        shift = self.n_nodes
        cat_off = np.full(n, -1, np.int64)
        cat_len = np.zeros(n, np.int64)
        known_off = np.full(n, -1, np.int64)
        known_len = np.zeros(n, np.int64)
        for source, off, length in ((cat, cat_off, cat_len), (known, known_off, known_len)):
            for i, words in enumerate(source or ()):
                if words is not None:
                    off[i], length[i] = self.n_bits, len(words)
                    self.bits.append(np.asarray(words, np.uint32))
                    self.n_bits += len(words)
        columns = {
            "left": np.where(leaf, -1, left + shift),
            "right": np.where(leaf, -1, right + shift),
            "feature": np.where(leaf, 0, feature),
            "threshold": np.where(leaf, 0.0, threshold),
            "kind": np.zeros(n, np.int8) if kind is None else kind,
            "flags": np.where(leaf, 0, flags),
            "cover": cover,
            "value": value.reshape(n, self.n_out),
            "cat_off": cat_off,
            "cat_len": cat_len,
            "known_off": known_off,
            "known_len": known_len,
            "is_leaf": leaf,
        }
        if np.any(feature[~leaf] < 0) or np.any(feature[~leaf] >= self.n_features):
            raise Unsupported("a split on a feature outside the input")
        for name, column in columns.items():
            self.parts.setdefault(name, []).append(np.asarray(column))
        self.roots.append(shift)
        self.n_nodes += n

    def arrays(self) -> dict[str, np.ndarray]:
        if not self.roots:
            raise Unsupported("no trees")
        types = {"left": np.int64, "right": np.int64, "feature": np.int64, "kind": np.int8,
                 "flags": np.int64, "threshold": np.float64, "cover": np.float64,
                 "value": np.float64}  # fmt: skip
        out = {
            name: np.ascontiguousarray(np.concatenate(cols), dtype=types.get(name))
            for name, cols in self.parts.items()
        }
        out["bits"] = np.concatenate(self.bits) if self.bits else np.zeros(1, np.uint32)
        out["roots"] = np.asarray(self.roots, np.int64)
        return out


# -- scikit-learn ---------------------------------------------------------------------------


def _sklearn_tree(forest: Forest, tree: Any, scale: float, normalize: bool) -> None:
    value = np.asarray(tree.value, dtype=np.float64)
    if value.shape[1] != 1:
        raise Unsupported("multi-output trees")
    value = value[:, 0, :]
    if normalize:
        total = value.sum(axis=1, keepdims=True)
        value = np.divide(value, total, out=np.zeros_like(value), where=total > 0)
    if value.shape[1] != forest.n_out:
        raise Unsupported("trees with different numbers of outputs")
    missing = getattr(tree, "missing_go_to_left", None)
    flags = (
        np.zeros(tree.node_count, np.int64) if missing is None else np.where(missing, NAN_LEFT, 0)
    )
    forest.add(
        tree.children_left.astype(np.int64),
        tree.children_right.astype(np.int64),
        tree.feature.astype(np.int64),
        tree.weighted_n_node_samples.astype(np.float64),
        value * scale,
        tree.threshold.astype(np.float64),
        flags,
    )


def sklearn_trees(model: Any) -> Forest:
    """Decision trees, random forests / extra trees, gradient boosting (binary / regression)."""
    from sklearn import ensemble, tree

    n_features = int(model.n_features_in_)
    if isinstance(model, (tree.BaseDecisionTree, ensemble.RandomForestClassifier,
                          ensemble.RandomForestRegressor, ensemble.ExtraTreesClassifier,
                          ensemble.ExtraTreesRegressor)):  # fmt: skip
        trees = [model] if isinstance(model, tree.BaseDecisionTree) else list(model.estimators_)
        classifier = hasattr(model, "classes_")
        if getattr(model, "n_outputs_", 1) != 1:
            raise Unsupported("multi-output trees")
        n_out = int(trees[0].tree_.value.shape[2]) if classifier else 1
        forest = Forest(n_features, n_out, True, np.zeros(n_out))
        for t in trees:
            _sklearn_tree(forest, t.tree_, 1.0 / len(trees), classifier)
        return forest
    if isinstance(model, (ensemble.GradientBoostingClassifier,
                          ensemble.GradientBoostingRegressor)):  # fmt: skip
        from sklearn.dummy import DummyClassifier, DummyRegressor

        if model.estimators_.shape[1] != 1:
            raise Unsupported("multi-class gradient boosting")
        if not (
            model.init_ == "zero" or isinstance(model.init_, (DummyClassifier, DummyRegressor))
        ):
            raise Unsupported("a gradient boosting init estimator that is not constant")
        constant = np.asarray(model._raw_predict_init(np.zeros((1, n_features))), float)[0]
        forest = Forest(n_features, 1, True, constant.reshape(1))
        for t in model.estimators_[:, 0]:
            _sklearn_tree(forest, t.tree_, float(model.learning_rate), False)
        return forest
    if isinstance(model, (ensemble.HistGradientBoostingClassifier,
                          ensemble.HistGradientBoostingRegressor)):  # fmt: skip
        return _hist_trees(model)
    raise Unsupported(type(model).__name__)


def _words(values: np.ndarray) -> np.ndarray:
    """A uint32 bitset of non-negative integers."""
    values = np.asarray(values, np.int64)
    words = np.zeros(int(values.max(initial=0)) // 32 + 1, np.uint32)
    np.bitwise_or.at(
        words, values >> 5, np.left_shift(np.uint32(1), (values & 31).astype(np.uint32))
    )
    return words


def _members(words: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.unpackbits(np.asarray(words, "<u4").view(np.uint8), bitorder="little"))


def _hist_encoding(model: Any) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """How HGB's own OrdinalEncoder maps input columns to the predictors' columns.

    Returns, per predictor column, its input column and (categorical) the input value of each
    code. The kernels then read the input rows directly: a category is left-going when its
    code is; values the encoder does not know (and non-integers) are missing, as in sklearn.
    """
    n = int(model.n_features_in_)
    if model._preprocessor is None:
        return np.arange(n), [None] * n
    categorical = np.asarray(model.is_categorical_, bool)
    encoder = model._preprocessor.named_transformers_["encoder"]
    order = np.concatenate([np.flatnonzero(categorical), np.flatnonzero(~categorical)])
    values: list[np.ndarray | None] = [None] * n
    for k, categories in enumerate(encoder.categories_):
        cats = np.asarray(categories, dtype=np.float64)
        cats = cats[~np.isnan(cats)]
        if np.any(cats < 0) or np.any(cats != np.floor(cats)) or np.any(cats >= 2**20):
            raise Unsupported("HGB categories that are not small non-negative integers")
        values[k] = cats.astype(np.int64)
    return order, values


def _hist_trees(model: Any) -> Forest:
    baseline = np.asarray(model._baseline_prediction, float).ravel()
    if baseline.shape != (1,) or any(len(p) != 1 for p in model._predictors):
        raise Unsupported("multi-class HistGradientBoosting")
    try:
        column, categories = _hist_encoding(model)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise Unsupported(f"HGB categorical encoding: {exc}") from exc
    forest = Forest(int(model.n_features_in_), 1, False, baseline)
    known_bits, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        categorical = nodes["is_categorical"].astype(bool) & ~leaf
        kind = np.where(categorical, CATEGORICAL, NUMERIC).astype(np.int8)
        flags = np.where(nodes["missing_go_to_left"].astype(bool), NAN_LEFT, 0)
        cat: list[np.ndarray | None] = [None] * len(nodes)
        known: list[np.ndarray | None] = [None] * len(nodes)
        for i in np.flatnonzero(categorical):
            f = int(nodes["feature_idx"][i])
            left_codes = _members(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][i]])
            known_codes = _members(known_bits[f_idx_map[f]])
            mapping = categories[f]
            if mapping is not None:  # codes -> the input values they encode
                left_codes = mapping[left_codes[left_codes < len(mapping)]]
                known_codes = mapping[known_codes[known_codes < len(mapping)]]
                flags[i] |= CAT_EXACT
            cat[i], known[i] = _words(left_codes), _words(known_codes)
        forest.add(
            np.where(leaf, -1, nodes["left"].astype(np.int64)),
            np.where(leaf, -1, nodes["right"].astype(np.int64)),
            np.where(leaf, 0, column[np.where(leaf, 0, nodes["feature_idx"])]),
            nodes["count"].astype(np.float64),
            nodes["value"].astype(np.float64),
            nodes["num_threshold"].astype(np.float64),
            flags,
            kind,
            cat,
            known,
        )
    return forest


# -- XGBoost --------------------------------------------------------------------------------

_XGB_LOGIT = frozenset({"binary:logistic", "reg:logistic"})
_XGB_LOG = frozenset({"reg:gamma", "reg:tweedie", "count:poisson", "survival:cox", "survival:aft"})


def _xgb_base_score(learner: dict[str, Any]) -> float:
    raw = learner["learner_model_param"]["base_score"]
    values = json.loads(raw) if isinstance(raw, str) and raw.startswith("[") else raw
    if isinstance(values, list):
        if len(values) != 1:
            raise Unsupported("a vector base_score")
        values = values[0]
    score = float(values)
    name = learner["objective"]["name"]
    if name in _XGB_LOGIT:
        return math.log(score / (1.0 - score))
    if name in _XGB_LOG:
        return math.log(score)
    return score


def xgboost_trees(booster: Any) -> Forest:
    """A ``gbtree`` booster with numeric splits and one output (the margin)."""
    config = json.loads(bytes(booster.save_raw(raw_format="json")).decode("utf-8"))
    learner = config["learner"]
    gbm = learner["gradient_booster"]
    if gbm.get("name") != "gbtree":
        raise Unsupported(f"XGBoost booster {gbm.get('name')!r}")
    param = learner["learner_model_param"]
    if int(param.get("num_class", 0)) > 1 or int(param.get("num_target", 1)) > 1:
        raise Unsupported("multi-output XGBoost")
    model = gbm["model"]
    if any(int(g) != 0 for g in model.get("tree_info", [])):
        raise Unsupported("multi-output XGBoost")
    n_features = int(param["num_feature"])
    forest = Forest(n_features, 1, True, np.array([_xgb_base_score(learner)]))
    for tree in model["trees"]:
        if int(tree["tree_param"].get("size_leaf_vector", 1)) > 1:
            raise Unsupported("vector leaves")
        if any(int(s) != 0 for s in tree.get("split_type", [])):
            raise Unsupported("XGBoost categorical splits")
        left = np.asarray(tree["left_children"], np.int64)
        leaf = left < 0
        condition = np.asarray(tree["split_conditions"], np.float32)
        # XGBoost goes left on x < t in float32: x <= the next float32 below t.
        below = np.nextafter(condition, np.float32(-np.inf)).astype(np.float64)
        forest.add(
            left,
            np.asarray(tree["right_children"], np.int64),
            np.asarray(tree["split_indices"], np.int64),
            np.asarray(tree["sum_hessian"], np.float32).astype(np.float64),  # exact float32s
            np.where(leaf, condition.astype(np.float64), 0.0),
            below,
            np.where(np.asarray(tree["default_left"], np.int64) != 0, NAN_LEFT, 0),
        )
    return forest


# -- LightGBM -------------------------------------------------------------------------------


def _lgb_node(node: dict[str, Any], rows: list[list[Any]], cat: list[Any], scale: float) -> int:
    """Append ``node`` and its subtree (preorder) to ``rows`` / ``cat``; return its index."""
    index = len(rows)
    rows.append([-1, -1, 0, 0.0, 0, NUMERIC, 0.0, 0.0])
    cat.append(None)
    if "leaf_value" in node:
        if "leaf_const" in node or "leaf_coeff" in node:
            raise Unsupported("LightGBM linear trees")
        rows[index][6] = float(node.get("leaf_count", 0))
        rows[index][7] = float(node["leaf_value"]) * scale
        return index
    missing = node.get("missing_type", "None")
    default_left = NAN_LEFT if node.get("default_left") else 0
    if node["decision_type"] == "==":
        kind, flags, threshold = CATEGORICAL, CAT_TRUNCATE, 0.0
        cat[index] = _words(np.array(str(node["threshold"]).split("||"), np.int64))
    elif node["decision_type"] == "<=":
        kind, threshold = NUMERIC, float(node["threshold"])
        flags = {"None": NAN_AS_ZERO, "Zero": NAN_AS_ZERO | ZERO_MISSING | default_left,
                 "NaN": default_left}[missing]  # fmt: skip
    else:
        raise Unsupported(f"LightGBM decision type {node['decision_type']!r}")
    left = _lgb_node(node["left_child"], rows, cat, scale)
    right = _lgb_node(node["right_child"], rows, cat, scale)
    rows[index] = [left, right, int(node["split_feature"]), threshold, flags, kind,
                   float(node["internal_count"]), 0.0]  # fmt: skip
    return index


def lightgbm_trees(booster: Any) -> Forest:
    """A LightGBM booster with one output per iteration (no linear trees)."""
    dump = booster.dump_model()
    if int(dump.get("num_tree_per_iteration", 1)) != 1:
        raise Unsupported("multi-class LightGBM")
    if str(booster.params.get("linear_tree", "")).lower() in ("true", "1"):
        raise Unsupported("LightGBM linear trees")
    infos = dump["tree_info"]
    scale = 1.0 / len(infos) if dump.get("average_output") and infos else 1.0
    forest = Forest(int(dump["max_feature_idx"]) + 1, 1, False, np.zeros(1))
    for info in infos:
        rows: list[list[Any]] = []
        cat: list[np.ndarray | None] = []
        _lgb_node(info["tree_structure"], rows, cat, scale)
        table = np.array(rows, dtype=object)
        forest.add(
            table[:, 0].astype(np.int64),
            table[:, 1].astype(np.int64),
            table[:, 2].astype(np.int64),
            table[:, 6].astype(np.float64),
            table[:, 7].astype(np.float64),
            table[:, 3].astype(np.float64),
            table[:, 4].astype(np.int64),
            table[:, 5].astype(np.int8),
            cat,
        )
    return forest
