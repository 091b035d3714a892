"""--fast's static query vectors: distilled from the real default model, close to its vectors on texts they never
saw, better than the lexical channels alone on held-out labelled items, and kept on disk with a checksum."""

import json
import shutil
from pathlib import Path

import numpy as np

from inference.evaluate import load_labelled, score
from inference.fast import CascadePolicy, FastCascade
from inference.fusion import FusionParams
from models.static_embedder import VECTORS_NAME, StaticQueryEncoder
from training.distill import STATIC_DIRNAME, _is_current, distillation_texts, ensure_static_encoder

DATA = Path(__file__).resolve().parent.parent / "corpus" / "data" / "labelled"

# Written for this test; none of them is in the bundled texts the vectors were distilled from.
UNSEEN = [
    "小区门口的烧烤摊每天晚上油烟呛人，窗户都不敢开",
    "老板拖欠我们八个工人三个月工资，打电话也不接",
    "村里河道里漂着死鱼，水发黑发臭，怀疑有厂偷排",
    "我家老人八十多岁了，高龄津贴一直没有发下来",
    "隔壁邻居在楼顶私自加盖了一层彩钢房",
    "孩子今年要上小学，户口不在本地怎么办入学手续",
    "镇上菜市场的鱼摊缺斤少两，称有问题",
    "山上有人烧荒，烟很大，担心引发山火",
    "出租屋里住了十几个人，电动车在楼道充电",
    "村道上的桥栏杆断了好几根，学生每天从这里过",
    "想给去世的父亲办理养老保险待遇停发和丧葬补助",
    "路口的红绿灯坏了，车辆乱成一团",
]


def test_static_vectors_land_near_the_transformer_on_unseen_texts(static_encoder, matcher, embedder):
    forms = matcher.query_forms(UNSEEN)
    assert not set(UNSEEN) & set(distillation_texts(matcher.lexicon, matcher.catalog))
    static = static_encoder.encode(forms)
    teacher = embedder.encode_queries(forms)
    assert static.shape == teacher.shape and np.allclose(np.linalg.norm(static, axis=1), 1.0, atol=1e-5)
    cos = static @ teacher.T
    own = np.diag(cos)
    others = (cos.sum(axis=1) - own) / (len(UNSEEN) - 1)
    assert own.mean() > 0.85, own
    assert (own > others).all()
    assert (cos.argmax(axis=1) == np.arange(len(UNSEEN))).mean() >= 0.75  # each finds its own text's vector


def test_static_first_stage_beats_the_lexical_channels_on_held_out_items(matcher, static_encoder):
    items = [
        it
        for it in load_labelled(DATA / "reference_items.csv", DATA / "reference_gold.csv")
        if it.extra.get("划分") == "留出"
    ]
    texts = [it.text for it in items]
    static = FastCascade(matcher, CascadePolicy(), static_encoder).first_stage(texts, top_k=5)
    lexical = matcher.match(texts, top_k=5, use_dense=False)
    static_top1 = score(items, static, matcher.catalog.get).top1
    lexical_top1 = score(items, lexical, matcher.catalog.get).top1
    assert static_top1 >= lexical_top1 + 0.05, (static_top1, lexical_top1)


def test_first_stage_weighs_static_vectors_with_their_own_fit(matcher, static_encoder):
    shipped = FusionParams.load()
    assert shipped.static is not None, "fusion.json has no static section: run training.calibrate"
    first_stage = shipped.for_static_queries()
    assert first_stage.dense == shipped.static.dense and first_stage.static is None
    assert first_stage.example_floor == shipped.example_floor  # what belongs to the examples is kept
    assert FusionParams.from_dict(json.loads(shipped.to_json())) == shipped
    assert FusionParams().for_static_queries() == FusionParams()  # no static fit: the same weights

    items = [
        it
        for it in load_labelled(DATA / "reference_items.csv", DATA / "reference_gold.csv")
        if it.extra.get("划分") == "留出"
    ]
    texts = [it.text for it in items]
    own_fit = FastCascade(matcher, CascadePolicy(), static_encoder).first_stage(texts, top_k=5)
    transformer_fit = matcher.match(texts, top_k=5, use_dense=True, query_encoder=static_encoder.encode)

    def best(ms):
        return [m.best.entry.id if m.best else None for m in ms]

    assert best(own_fit) != best(transformer_fit)
    assert score(items, own_fit, matcher.catalog.get).top1 >= score(items, transformer_fit, matcher.catalog.get).top1


def test_static_folder_is_reused_and_checked(tmp_path, matcher, settings, static_encoder):
    folder = settings.models_dir / STATIC_DIRNAME / static_encoder.identity
    before = (folder / VECTORS_NAME).stat().st_mtime_ns
    again = ensure_static_encoder(matcher)
    assert again.identity == static_encoder.identity
    assert (folder / VECTORS_NAME).stat().st_mtime_ns == before, "a current folder is loaded, not distilled again"
    assert np.array_equal(again.encode(UNSEEN), static_encoder.encode(UNSEEN))

    copy = tmp_path / static_encoder.identity
    shutil.copytree(folder, copy)
    assert _is_current(copy, static_encoder.identity)
    assert not _is_current(copy, "another-identity")
    loaded = StaticQueryEncoder.load(copy, matcher.embedder.model.tokenizer, static_encoder.identity)
    assert np.array_equal(loaded.encode(UNSEEN), static_encoder.encode(UNSEEN))
    vectors = np.load(copy / VECTORS_NAME)
    vectors[0, 0] += 1.0
    np.save(copy / VECTORS_NAME, vectors)
    assert not _is_current(copy, static_encoder.identity), "damaged vectors are not trusted"


def test_texts_without_known_tokens_still_get_a_unit_vector(static_encoder):
    vectors = static_encoder.encode(["", "   ", "🙂🙂"])
    assert vectors.shape == (3, static_encoder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
