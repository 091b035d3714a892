"""The out-of-list probe on the real default model's query vectors, as shipped (inference/out_of_list_probe.json)."""

import numpy as np

from corpus.training_corpus import load_training_corpus
from inference.fusion import FEATURES, FusionParams
from inference.matcher import Matcher
from inference.out_of_list import OutOfListProbe
from lvzhi.config import BASE_MODEL, DEFAULT_MODEL
from training.out_of_list_probe import probe_data_hash, shipped_encoder

# Written for this test: matters no township list covers, and everyday township business.
ELSEWHERE = [
    "我在网上买的羽绒服和图片完全不一样，商家拖着不给退货",
    "想问一下办出国留学签证需要准备哪些材料",
    "市人民医院急诊科医生态度很差，看个病等了四个小时",
    "手机套餐被运营商偷偷升级了，每月多扣三十块话费",
]
TOWNSHIP = [
    "村口那几盏路灯坏了半个月，晚上走路黑乎乎的",
    "我家老人想申请低保，材料要交到哪里",
    "河沟里有人往里倒生活垃圾，夏天臭得不行",
    "隔壁两家因为宅基地界线吵起来了，想请村里调解",
]


def test_shipped_probe_is_fitted_on_the_current_corpus_and_encoder():
    probe = OutOfListProbe.load()
    assert probe is not None, "inference/out_of_list_probe.json 缺失：运行 python -m training.out_of_list_probe"
    assert probe.model == DEFAULT_MODEL
    assert probe.data_hash == probe_data_hash(load_training_corpus()), "语料已变：重跑 training.out_of_list_probe"
    assert probe.encoder == shipped_encoder(), "随包工单适配权重已变：重跑 training.out_of_list_probe"


def test_probe_tells_other_matters_from_township_business(matcher):
    ev = matcher.gather_evidence(ELSEWHERE + TOWNSHIP, use_dense=True)
    elsewhere, township = ev.outside[: len(ELSEWHERE)], ev.outside[len(ELSEWHERE) :]
    assert elsewhere.min() > township.max(), (elsewhere, township)
    assert (township < 0).all() and (elsewhere > 0).all()


def test_probe_stays_neutral_where_it_cannot_read(matcher, settings):
    probe = matcher.probe
    lexical = Matcher(catalog=matcher.catalog, embedder=None, settings=settings)
    ev = lexical.gather_evidence(ELSEWHERE, use_dense=False)
    assert np.allclose(ev.outside, probe.neutral)
    assert not probe.reads(BASE_MODEL, len(probe.weights))
    assert not probe.reads(DEFAULT_MODEL, len(probe.weights) + 1)


def test_out_of_list_judge_weighs_the_probe():
    """The shipped calibrators were fitted with the probe: a ticket that reads as another matter is more likely
    outside the list, all else equal."""
    params = FusionParams.load()
    for judge in (params.out_of_list, params.for_static_queries().out_of_list):
        assert len(judge.weights) == len(FEATURES)
        assert judge.weights[FEATURES.index("outside")] > 0
