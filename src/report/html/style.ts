/** The report page's stylesheet, inlined: the page opens from disk and loads nothing. */
export const STYLE = `
:root { --deleted: #c0392b; --untagged: #d68910; --kept: #5d7fb9; --after: #27ae60; --line: #d5d8dc; --muted: #5f6a6a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1c2833; background: #fbfcfc; }
header.top { position: sticky; top: 0; z-index: 2; display: flex; gap: 1em; align-items: center; padding: .6em 1.2em; background: #1c2833; color: #fff; }
header.top h1 { font-size: 1.1em; margin: 0; font-weight: 600; }
header.top input { flex: 0 1 28em; padding: .35em .6em; border-radius: 4px; border: 1px solid #aab; font: inherit; }
header.top .matches { color: #d0d3d4; font-size: .9em; }
main { padding: 0 1.2em 2em; max-width: 90em; }
section.engine { margin-top: 1.2em; }
h2 { margin: .4em 0 .2em; font-size: 1.35em; }
h3 { margin: 1.2em 0 .4em; font-size: 1.05em; }
.meta { color: var(--muted); margin: 0 0 .6em; }
.refused { border-left: 4px solid var(--deleted); background: #fdedec; padding: .5em .8em; margin: .6em 0; }
.note { border-left: 4px solid var(--untagged); background: #fef5e7; padding: .5em .8em; margin: .6em 0; }
.cards { display: flex; flex-wrap: wrap; gap: .6em; margin: .6em 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .4em .8em; background: #fff; min-width: 8em; }
.card b { display: block; font-size: 1.3em; }
.card span { color: var(--muted); font-size: .85em; }
.charts { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: flex-start; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6em; }
figcaption { font-weight: 600; margin-bottom: .3em; }
figure p { margin: .3em 0 0; color: var(--muted); font-size: .85em; max-width: 48em; }
svg text { font-size: 11px; fill: #1c2833; }
svg .axis { stroke: #aab7b8; stroke-width: 1; }
.legend { display: flex; gap: 1em; font-size: .85em; margin: .2em 0; }
.legend i { display: inline-block; width: .9em; height: .9em; margin-right: .3em; vertical-align: -1px; border-radius: 2px; }
.deleted { background: var(--deleted); } .untagged { background: var(--untagged); } .kept { background: var(--kept); }
.reclaim { background: var(--deleted); } .keptbytes { background: var(--kept); } .after { background: var(--after); }
details { margin: .8em 0; }
/* Tables below the fold are laid out when scrolled to: a big plan's page paints sooner. */
details.table > table { content-visibility: auto; contain-intrinsic-size: auto 40em; }
summary { cursor: pointer; font-weight: 600; }
table { border-collapse: collapse; width: 100%; background: #fff; margin-top: .4em; font-size: .92em; }
th, td { border-bottom: 1px solid var(--line); padding: .25em .5em; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
th button { all: unset; cursor: pointer; font-weight: 600; }
th button:focus-visible { outline: 2px solid var(--kept); }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; white-space: nowrap; }
.more { margin: .4em 0; color: var(--muted); }
.more button { margin-left: .6em; }
.empty { color: var(--muted); }
`;
