"""The matcher on the real default model, a real FAISS index and the bundled reference catalog."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from corpus.datasets import DEV_TOWNSHIP
from corpus.importer import import_catalog
from corpus.schema import Catalog, DutyEntry, ListType
from inference.evaluate import evaluate, load_labelled
from inference.index import VectorIndex, build_faiss
from inference.matcher import Matcher
from inference.query_clean import QueryCleaner

DATA = Path(__file__).resolve().parent.parent / "corpus" / "data"


def best_id(matcher, text):
    return matcher.match([text])[0].best.entry.id


def test_citizen_words_reach_list_words(matcher):
    m = matcher.match(["市民反映幸福里小区门口每晚有人摆摊卖烧烤，占用人行道，希望尽快处理"])[0]
    # 集镇市容秩序管理 (劝导规范流动摊点) and 占道经营等违法行为查处配合 both cover street vending; either is right,
    # and the other must be close behind.
    assert m.best.entry.id in {"JB117", "PH075"}
    assert {"JB117", "PH075"} <= {c.entry.id for c in m.candidates[:3]}
    assert 0.0 <= m.confidence <= 1.0
    assert m.why, "a match must say why"
    assert m.candidates[0].score >= m.candidates[1].score


def test_reasons_name_words_found_in_the_chosen_entry(matcher):
    items = load_labelled(DATA / "labelled" / "reference_items.csv", DATA / "labelled" / "reference_gold.csv")[:60]
    shown = 0
    for m in matcher.match([i.text for i in items]):
        entry = m.best.entry
        own_words = " ".join([entry.text, *entry.aliases])
        for reason in m.why:
            assert reason.split("→")[-1] in own_words, (m.text, entry.name, reason)
            shown += "→" in reason
    assert shown >= 10  # tickets that say it their own way are shown the entry's words for it


def test_lonely_elder_in_leaking_house_is_destitute_support(matcher):
    m = matcher.match(["来电人称村里有个孤寡老人，无儿无女，一个人住在漏雨的老房子里，没人照顾"])[0]
    top3 = [c.entry.id for c in m.candidates[:3]]
    assert "JB034" in top3  # 特困人员救助供养审核


def test_reclaimed_entry_flags_handover_department(matcher):
    m = matcher.match(["我家老房子要办不动产登记证，镇里说不归他们办了"])[0]
    assert m.best.entry.id == "SH017"
    assert m.flags.reclaimed
    assert m.handover_department == "县自然资源局"
    assert any("县自然资源局" in w for w in m.warnings)


def test_zombie_and_bottom_line_flags(matcher):
    zombie = matcher.match(["镇上那个老渡口的渡船安全现在谁管"])[0]
    assert zombie.best.entry.is_zombie and zombie.flags.zombie
    assert any("僵尸" in w for w in zombie.warnings)
    bottom = matcher.match(["有户人家因病致贫，申请低保，帮忙入户调查核实家庭收入"])[0]
    assert bottom.best.entry.bottom_line and bottom.flags.bottom_line


def test_out_of_list_ticket(matcher):
    m = matcher.match(["我家手机信号太差了，打电话老是断线，请通信公司来加个基站"])[0]
    assert m.flags.out_of_list
    assert any("清单之外" in w for w in m.warnings)


def test_query_cleaning_strips_noise_not_substance():
    cleaner = QueryCleaner()
    out = cleaner.clean(
        "工单编号：GD20240311001 来电人王先生（电话13812345678）反映：幸福里小区3栋2单元楼道里有人给电动车飞线充电，请相关部门尽快核实处理"
    )
    assert "13812345678" not in out and "王先生" not in out and "GD2024" not in out
    assert "飞线充电" in out and "电动车" in out
    assert "保洁阿姨" in cleaner.clean("保洁阿姨说楼道里堆满杂物")
    # What platforms append around the substance: a ticket number in another spelling, the hand-over to the
    # locality, a reply request naming who, the disclosure note, a message-board preamble.
    assert (
        cleaner.clean("【12345转办】工单号：HZ202407150023 市民反映幸福路口井盖缺失，请职能部门核实处理并回复市民。")
        == "幸福路口井盖缺失"
    )
    assert cleaner.clean("来电人称2024年7月工头拖欠工资8000元，请属地协调解决。来电人不同意公开。（匿名）").replace(
        " ", ""
    ) == ("工头拖欠工资8000元，协调解决")
    assert cleaner.clean("网友在人民网领导留言板留言：村里低保评选不公平") == "村里低保评选不公平"
    assert cleaner.clean("诉求：小区楼下垃圾堆积无人清运") == "小区楼下垃圾堆积无人清运"
    # Letters to a message board: salutation, greeting, Excel's escaped line breaks and the sign-off; an official's
    # title in the text itself stays.
    assert cleaner.clean("尊敬的李书记：您好！_x000D_村口的路灯坏了一个多月。此致 敬礼！") == "村口的路灯坏了一个多月"
    assert cleaner.clean("王县长：您好，我想反映一个问题，化工厂晚上偷排废水，谢谢领导！") == "化工厂晚上偷排废水"
    assert cleaner.clean("村主任不给开证明，我说你好，他就挂了电话") == "村主任不给开证明，我说你好，他就挂了电话"


def test_tickets_differing_only_in_caller_details_are_encoded_once(matcher):
    tickets = [
        f"来电人{name}（电话{phone}）反映：幸福里小区楼道里有人给电动车飞线充电，请相关部门尽快核实处理"
        for name, phone in (("王先生", "13812345678"), ("李女士", "13900001111"), ("张师傅", "13700002222"))
    ]
    tickets.append("小区门口每天早上有人摆摊卖菜，堵住了出口")
    encoded: list[str] = []

    def encode(texts, batch_size):  # the real model, counting what it is asked to encode
        encoded.extend(texts)
        return matcher.embedder.encode_queries(texts, batch_size=batch_size)

    matches = matcher.match(tickets, query_encoder=encode)
    assert len(encoded) == 2
    assert len({m.candidates[0].entry.id for m in matches[:3]}) == 1
    assert [c.score for c in matches[0].candidates] == [c.score for c in matches[2].candidates]
    assert matches[3].candidates[0].entry.id != matches[0].candidates[0].entry.id


def test_index_saved_keyed_and_rebuilt(settings, embedder, reference_catalog, tmp_path):
    s = replace(settings, home=tmp_path)
    first = Matcher(catalog=reference_catalog, embedder=embedder, settings=s)
    saved = list(s.index_dir.glob("*.faiss"))
    assert len(saved) == 1
    stem = saved[0].with_suffix("")
    # The same catalog and model load the saved index rather than rebuilding it.
    again = VectorIndex.load(s.index_dir, first.index.meta)
    assert again is not None and again.index.ntotal == first.index.index.ntotal
    # Another model identity or catalog version must not reuse it.
    assert VectorIndex.load(s.index_dir, replace(first.index.meta, model_identity="other-model")) is None
    other = Catalog(name="改过的清单", entries=reference_catalog.entries[:-1])
    rebuilt = Matcher(catalog=other, embedder=embedder, settings=s)
    assert rebuilt.index.meta.catalog_version != first.index.meta.catalog_version
    assert rebuilt.index.index.ntotal < first.index.index.ntotal
    # A damaged file is rebuilt, not trusted.
    stem.with_suffix(".npy").write_bytes(b"broken")
    assert VectorIndex.load(s.index_dir, first.index.meta) is None
    healed = Matcher(catalog=reference_catalog, embedder=embedder, settings=s)
    assert healed.match(["摆摊卖烧烤占人行道"])[0].best.entry.id == first.match(["摆摊卖烧烤占人行道"])[0].best.entry.id


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_large_catalog_index_kinds_agree_with_flat(kind):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:50] + 0.01 * rng.normal(size=(50, 32)).astype(np.float32)
    _, flat_ids = build_faiss(vectors, "flat").search(queries, 1)
    _, ids = build_faiss(vectors, kind).search(queries, 1)
    assert (ids[:, 0] == flat_ids[:, 0]).mean() >= 0.95


def test_reviewed_examples_help_at_once(settings, embedder, reference_catalog, tmp_path):
    m = Matcher(catalog=reference_catalog, embedder=embedder, settings=replace(settings, home=tmp_path))
    text = "村东头老槐树上的马蜂窝越来越大，已经蛰伤两个小孩"
    assert best_id(m, text) != "JB101"
    # The same complaint filed again, in other words: a reviewer confirmed the first one onto JB101.
    m.add_examples({"JB101": ["村东头老槐树上马蜂窝越来越大了，已经蛰伤了两个小孩子"]})
    assert best_id(m, text) == "JB101"


def dense_only_top1(matcher, items) -> float:
    original = matcher.fusion
    try:
        matcher.fusion = replace(original, char=0.0, bm25=0.0, concept=0.0, dense=1.0)
        return evaluate(matcher, items).top1
    finally:
        matcher.fusion = original


def test_fusion_beats_lexical_only_on_held_out(matcher):
    """Held-out items are never used for tuning; fused matching must beat lexical-only on them."""
    items = load_labelled(DATA / "labelled" / "reference_items.csv", DATA / "labelled" / "reference_gold.csv")
    held = [it for it in items if it.extra["划分"] == "留出"]
    lexical_only = Matcher(catalog=matcher.catalog, embedder=None, settings=matcher.settings)
    assert evaluate(matcher, held).top1 > evaluate(lexical_only, held).top1


def test_fusion_beats_both_baselines_on_a_list_the_encoder_never_saw(settings, embedder):
    """The shipped encoder was trained on tickets written for the reference list, where its vectors alone are
    hard to beat; on another township's list the lexical evidence must still add to them."""
    catalog = DEV_TOWNSHIP.load_catalog()
    items = load_labelled(DEV_TOWNSHIP.items, DEV_TOWNSHIP.gold, catalog)
    fused_matcher = Matcher(catalog=catalog, embedder=embedder, settings=settings)
    fused = evaluate(fused_matcher, items).top1
    assert fused > evaluate(Matcher(catalog=catalog, embedder=None, settings=settings), items).top1
    assert fused > dense_only_top1(fused_matcher, items)


def test_unseen_catalog_with_variant_headers(settings, embedder):
    catalog = import_catalog([DATA / "other_township" / "catalog.csv"])
    m = Matcher(catalog=catalog, embedder=embedder, settings=settings)
    items = load_labelled(DATA / "other_township" / "items.csv", DATA / "other_township" / "gold.csv")
    report = evaluate(m, items)
    assert report.n == len(items) >= 150
    assert report.top3 > 0.6


def test_county_part_of_shared_duties_is_matched_on(settings, embedder):
    # 配合 lists often give every entry the same township wording; what tells them apart is the county's part.
    township = "配合开展日常巡查，发现问题及时劝阻并向县级部门报告"
    shared = [
        ("PH01", "自然资源领域执法配合", "查处未经批准占用耕地建房、非法采砂采矿等违法行为"),
        ("PH02", "生态环境领域执法配合", "查处企业偷排废水、超标排放废气等环境违法行为"),
        ("PH03", "市场监管领域执法配合", "查处销售过期变质食品、无证生产经营食品小作坊等违法行为"),
        ("PH04", "交通运输领域执法配合", "查处非法营运载客、货车超限超载等违法行为"),
    ]
    entries = [
        DutyEntry(i, name, ListType.COOPERATE, description=township, department_duty=county)
        for i, name, county in shared
    ]
    entries += [
        DutyEntry("JB01", "人居环境整治", description="组织村庄清洁行动，整治乱堆乱放、垃圾清运"),
        DutyEntry("JB02", "矛盾纠纷排查化解", description="组织排查化解邻里、婚姻家庭等矛盾纠纷"),
    ]
    tickets = {
        "村民在耕地上违规盖房子，地基已经打好了": "PH01",
        "化工厂晚上偷偷往河里排污水，河水都黑了": "PH02",
        "路口小卖部卖过期的牛奶和面包": "PH03",
        "有黑车在车站门口拉客，还有大货车拉得特别多压坏路面": "PH04",
    }

    def margins(catalog_entries):
        m = Matcher(catalog=Catalog("配合清单", tuple(catalog_entries)), embedder=embedder, settings=settings)
        results = m.match(list(tickets))
        assert [r.best.entry.id for r in results] == list(tickets.values())
        return np.mean([r.margin for r in results])

    # The names alone still point the right way, by less; the county's words make the answer clear. (The ticket-
    # trained encoder reads the names better than plain e5 did: the ratio fell from over 2 to about 1.9. Without
    # the county part in entry.text it is 1.)
    assert margins(entries) > 1.5 * margins([replace(e, department_duty="") for e in entries])
