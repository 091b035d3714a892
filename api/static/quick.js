/* 速查: suggestions as you type (debounced) and on Enter; a 送审 button per answer. */
"use strict";
(() => {
  const { api, el, toast, debounce, entryBadges, flagBadges, confidence, entryLine } = LZ;
  const box = document.getElementById("quick-text");
  const results = document.getElementById("quick-results");
  const status = document.getElementById("quick-status");
  const catalogSelect = document.getElementById("quick-catalog");
  let controller = null;
  let lastAsked = "";

  LZ.catalogOptions(catalogSelect).catch(() => null);

  function fact(label, value) {
    return [el("dt", {}, label), el("dd", {}, value || "—")];
  }

  function sendButton(match, catalogVersion) {
    if (!LZ.user()) {
      return el("div", { class: "send" }, el("a", { href: "/login?next=/" }, "登录"), "后可把这条送审");
    }
    const note = el("input", { placeholder: "送审说明（可选）", maxlength: "2000", class: "send-note" });
    const button = el("button", { type: "button", class: "primary send-review" }, "送审");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const review = await api("/api/reviews", { json: { text: match.text, catalog: catalogVersion, note: note.value } });
        button.textContent = `已送审（#${review.id}）`;
        toast(`已送审，编号 #${review.id}，审核人会在「审核」页处理`, "ok");
      } catch (err) {
        button.disabled = false;
        toast(err.message, "error");
      }
    });
    return el("div", { class: "send" }, note, button);
  }

  function render(data) {
    results.replaceChildren();
    for (const m of data.results) {
      const best = m.best;
      if (!best) {
        results.append(el("div", { class: "match out" }, m.error || "无法匹配"));
        continue;
      }
      const out = m.flags.out_of_list;
      const title = out ? [el("span", { class: "match-title" }, "清单之外"), el("span", { class: "muted" }, `（最接近：${best.name}）`)]
        : [el("span", { class: "match-title" }, best.name), el("span", { class: "entry-id" }, `[${best.id}]`)];
      const card = el("div", { class: "match" + (out ? " out" : ""), dataset: { entryId: best.id } },
        el("div", { class: "match-head" }, title, ...entryBadges(best)),
        el("dl", { class: "facts" },
          fact("清单类型", best.list_type), fact("承办机构", best.office), fact("主责部门", best.department),
          best.department_duty ? [fact("乡镇（街道）职责", best.description), fact("县级部门职责", best.department_duty)] : [],
          [el("dt", {}, "置信度"), el("dd", {}, confidence(m.confidence))]),
        el("div", { class: "flags" }, flagBadges(m)),
        m.why.length ? el("p", { class: "why" }, "依据：" + m.why.join("、")) : null,
        m.candidates.length > 1 ? el("p", { class: "alts-title" }, "其他候选") : null,
        m.candidates.length > 1 ? el("ol", { class: "alts" },
          m.candidates.slice(1).map((c) => el("li", {}, entryLine(c, el("span", { class: "score" }, "得分 " + c.score.toFixed(2)))))) : null,
        sendButton(m, data.catalog_version));
      results.append(card);
    }
  }

  async function ask() {
    const text = box.value.trim();
    if (!text) {
      results.replaceChildren();
      status.textContent = "";
      lastAsked = "";
      return;
    }
    const key = text + "\u0001" + catalogSelect.value;
    if (key === lastAsked) return;
    lastAsked = key;
    if (controller) controller.abort();
    controller = new AbortController();
    status.textContent = "匹配中……";
    try {
      const data = await api("/api/classify", { json: { text, catalog: catalogSelect.value || null }, signal: controller.signal });
      render(data);
      status.textContent = `清单：${data.catalog_name}`;
    } catch (err) {
      if (err.name === "AbortError") return;
      lastAsked = "";
      status.textContent = "";
      toast(err.status === 401 ? "请先登录后再匹配" : err.message, "error");
    }
  }

  const askSoon = debounce(ask, 450);
  box.addEventListener("input", askSoon);
  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      askSoon.cancel();
      lastAsked = "";
      ask();
    }
  });
  catalogSelect.addEventListener("change", () => { lastAsked = ""; ask(); });
  box.focus();
})();
