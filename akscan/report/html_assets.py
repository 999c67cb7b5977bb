"""The HTML report's inline style and script: small, no fonts, no network, readable unscripted.

The script only hides entries; without it every credential is listed and the filter form stays
hidden. Filters can also be set from the address (`report.html#status=live&q=prod`), so a
filtered view can be bookmarked or sent.
"""

from __future__ import annotations

# Nothing may be fetched: the page is opened from disk, often on a machine that holds secrets.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "img-src data:; form-action 'none'; base-uri 'none'")

STYLE = """
:root{--live:#c62828;--unknown:#8e24aa;--unchecked:#455a64;--unverifiable:#78909c;
--inactive:#ef6c00;--invalid:#9e9e9e;--line:#ddd;font:14px/1.45 system-ui,sans-serif;color:#222}
body{margin:0 auto;max-width:72rem;padding:1rem 1.5rem 3rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.05rem;margin:0 0 .4rem}
.meta{color:#555;margin:0 0 1rem}
.figures{display:flex;flex-wrap:wrap;gap:.5rem;margin:0 0 1rem;padding:0;list-style:none}
.figures li{border:1px solid var(--line);border-radius:6px;padding:.35rem .7rem;min-width:5.5rem}
.figures b{display:block;font-size:1.35rem}
.chart{margin:0 0 1rem}.chart svg{max-width:100%;height:auto}
.incomplete{border-left:4px solid #b35900;padding:0 .75rem;margin:0 0 1rem;background:#fff7ec}
form{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;padding:.6rem .8rem;
background:#f6f7f9;border:1px solid var(--line);border-radius:6px;margin:0 0 1rem}
form fieldset{border:0;margin:0;padding:0;display:flex;gap:.5rem;flex-wrap:wrap}
input[type=search],input[type=text],select{font:inherit;padding:.15rem .3rem}
article{border:1px solid var(--line);border-left:6px solid var(--unchecked);border-radius:6px;
padding:.7rem 1rem;margin:0 0 .9rem}
[hidden]{display:none!important}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:0 .45rem;font-size:.8rem;
font-weight:700;vertical-align:middle;background:var(--unchecked)}
code,.line{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
.line{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.05rem .3rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.3rem 0 .6rem}
dt{color:#555}dd{margin:0}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{text-align:left;vertical-align:top;border-top:1px solid var(--line);padding:.25rem .4rem}
th{font-weight:600;color:#555;font-size:.85rem}
.sev{font-size:.8rem;color:#555}.flag{color:var(--live);font-weight:600}
ol{margin:.3rem 0 .2rem;padding-left:1.4rem}li{margin:.1rem 0}
.none{color:#555;font-style:italic}
summary{cursor:pointer;color:#555;font-weight:600;font-size:.9rem}
details.todo code{background:#f4f4f4;padding:.05rem .3rem}
""" + "".join(
    f"article.{s}{{border-left-color:var(--{s})}}.badge.{s}{{background:var(--{s})}}"
    for s in ("live", "unknown", "unchecked", "unverifiable", "inactive", "invalid")
)

SCRIPT = """
(function(){
var f=document.getElementById('filters'),items=[].slice.call(document.querySelectorAll(
'article.credential')),shown=document.getElementById('shown');f.hidden=false;
function has(list,v){return!v||list.split('\\n').indexOf(v)>=0}
function apply(){var want={},n=0;[].forEach.call(f.querySelectorAll('input[name=status]'),
function(c){want[c.value]=c.checked});var q=f.q.value.toLowerCase(),p=f.path.value.toLowerCase(),
rule=f.rule.value,repo=f.repo?f.repo.value:'';items.forEach(function(a){var d=a.dataset,
ok=want[d.status]&&has(d.rules,rule)&&has(d.repos,repo)&&d.paths.indexOf(p)>=0&&
d.search.indexOf(q)>=0;a.hidden=!ok;if(ok)n++});shown.textContent=n}
function fromHash(){var h=decodeURIComponent(location.hash.slice(1));if(!h)return;
h.split('&').forEach(function(kv){var i=kv.indexOf('='),k=kv.slice(0,i),v=kv.slice(i+1);
if(k==='status'){var s=v.split(',');[].forEach.call(f.querySelectorAll('input[name=status]'),
function(c){c.checked=s.indexOf(c.value)>=0})}
else if(['q','path','rule','repo'].indexOf(k)>=0&&f[k])f[k].value=v})}
f.addEventListener('input',apply);f.addEventListener('change',apply);
f.addEventListener('submit',function(e){e.preventDefault()});
window.addEventListener('hashchange',function(){fromHash();apply()});fromHash();apply();
})();
"""
