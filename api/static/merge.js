/* 归并: upload a raw inventory, then read the proposed groups one by one. */
"use strict";
(() => {
  const { api, el, toast } = LZ;
  const panel = document.getElementById("merge-groups-panel");
  const box = document.getElementById("merge-groups");
  const onlyMulti = document.getElementById("merge-only-multi");
  const filter = document.getElementById("merge-filter");
  let groups = [];

  const VERDICT_CLASS = { "对应现有事项": "lt-基本", "新增事项": "b-review", "收回事项": "lt-收回", "僵尸事项": "b-zombie" };

  function nearestText(g) {
    const n = g.nearest_entry;
    if (!n) return "—";
    if (typeof n === "string") return n;
    return `[${n.id}] ${n.name}（${LZ.pct(g.nearest_score)}）`;
  }

  function draw() {
    const q = filter.value.trim();
    const shown = groups.filter((g) => (!onlyMulti.checked || g.members.length > 1) &&
      (!q || g.proposed_name.includes(q) || g.members.some((m) => m.text.includes(q))));
    box.replaceChildren(...shown.slice(0, 300).map((g) => el("div", { class: "group" },
      el("div", { class: "group-head" },
        el("span", { class: "group-name" }, g.proposed_name),
        el("span", { class: "badge " + (VERDICT_CLASS[g.verdict] || "b-tier3") }, String(g.verdict ?? "")),
        el("span", { class: "muted" }, `${g.members.length} 项 · 凝聚度 ${g.cohesion.toFixed(2)} · 最接近：${nearestText(g)}`)),
      el("table", { class: "table" },
        el("thead", {}, el("tr", {}, el("th", {}, "编号"), el("th", {}, "内容"), el("th", {}, "乡镇"), el("th", {}, "与组相似度"),
          el("th", {}, "单项最接近事项"))),
        el("tbody", {}, g.members.map((m) => el("tr", {}, el("td", { class: "nowrap" }, m.id), el("td", {}, m.text),
          el("td", { class: "nowrap" }, m.township || "—"), el("td", {}, m.similarity.toFixed(2)),
          el("td", {}, m.best_entry ? `[${m.best_entry.id}] ${m.best_entry.name}` : "—"))))))));
    if (shown.length > 300) box.append(el("p", { class: "muted" }, `只显示前 300 组，共 ${shown.length} 组；完整结果请下载 XLSX。`));
    if (!shown.length) box.append(el("p", { class: "muted" }, "没有符合条件的分组。"));
  }

  async function show(job) {
    try {
      groups = await api(`/api/jobs/${job.id}/groups`);
      panel.hidden = false;
      document.getElementById("merge-groups-title").textContent =
        `任务 #${job.id} · ${job.original_name} · ${job.summary.rows} 项归为 ${job.summary.groups} 组（${job.summary.merged_groups} 组含多项）`;
      draw();
    } catch (err) { toast(err.message, "error"); }
  }

  onlyMulti.addEventListener("change", draw);
  filter.addEventListener("input", LZ.debounce(draw, 200));
  const watcher = LZJobs.watch("merge", document.querySelector("#merge-jobs tbody"), document.getElementById("merge-empty"), {
    onSelect: show,
    onFinished: (job) => { toast(`归并任务 #${job.id} 已完成`, "ok"); watcher.select(job.id); show(job); },
  });
  LZJobs.uploadForm(document.getElementById("merge-form"), document.getElementById("merge-file"), "/api/jobs/merge",
    document.getElementById("merge-upload-progress"), document.getElementById("merge-upload-status"), () => watcher.refresh());
})();
