// A front end of the sample site in plain JavaScript, no build step: it reads the CMS's JSON
// API from the browser (CORS), keeps each answer with its ETag and revalidates it with
// If-None-Match (a 304 costs no body), and can preview a draft with a reader token and ?ref=.
//
// ?api=http://127.0.0.1:5000 names the CMS (that is the default); ?view=news lists the news;
// ?post=<slug> shows one post.

const query = new URLSearchParams(location.search);
const API = (query.get("api") || "http://127.0.0.1:5000").replace(/\/$/, "");
const draft = JSON.parse(sessionStorage.getItem("cms-draft") || "{}");
const page = document.getElementById("page");

// Answers kept by URL with their ETag, in this tab's storage.
function kept(url) {
  return JSON.parse(sessionStorage.getItem(`cms:${url}`) || "null");
}

async function get(path, args = {}) {
  const url = new URL(API + path);
  for (const [key, value] of Object.entries(args)) url.searchParams.set(key, value);
  if (draft.ref) url.searchParams.set("ref", draft.ref);
  const headers = {};
  if (draft.token) headers.Authorization = `Bearer ${draft.token}`;
  const old = kept(url.href);
  if (old) headers["If-None-Match"] = old.etag;
  const answer = await fetch(url, { headers, cache: "no-store" });
  if (answer.status === 304) return show(old.data, answer, "304 revalidated");
  if (!answer.ok) {
    const error = await answer.json().catch(() => ({}));
    throw new Error(`${answer.status}: ${error.message || answer.statusText}`);
  }
  const data = await answer.json();
  const etag = answer.headers.get("ETag");
  if (etag) sessionStorage.setItem(`cms:${url.href}`, JSON.stringify({ etag, data }));
  return show(data, answer, "200");
}

function show(data, answer, how) {
  const commit = answer.headers.get("X-Content-Commit") || "";
  document.getElementById("source").textContent =
    `${API} · commit ${commit.slice(0, 12)} · ${how}${draft.ref ? ` · ref ${draft.ref}` : ""}`;
  return data;
}

// A link to another view of this page, keeping the CMS it reads (?api=).
function here(args) {
  const next = new URLSearchParams(args);
  if (query.get("api")) next.set("api", query.get("api"));
  return `./?${next}`;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

async function home() {
  const entry = await get("/api/v1/collections/pages/entries/accueil", {
    include: "talents.list",
  });
  const { fields, included } = entry;
  page.replaceChildren(
    element("h1", fields.title),
    element("p", fields.hero?.title),
    element("h2", fields.talents?.sub),
    element("p", fields.talents?.desc),
  );
  const people = element("ul", undefined, { class: "people" });
  for (const person of included?.["talents.list"] || []) {
    if (person) people.append(element("li", person.fields.title));
  }
  page.append(people);
}

async function news() {
  const posts = await get("/api/v1/collections/actualites/entries", {
    sort: "-date",
    fields: "title,date",
  });
  const list = element("ul", undefined, { class: "news" });
  for (const post of posts) {
    const item = element("li");
    const link = element("a", post.fields.title, { href: here({ post: post.slug }) });
    item.append(link, element("br"), element("time", post.fields.date));
    list.append(item);
  }
  page.replaceChildren(element("h1", "Actualités"), list);
}

async function post(slug) {
  const entry = await get(`/api/v1/collections/actualites/entries/${encodeURIComponent(slug)}`, {
    render: "html",
  });
  const body = element("article");
  body.innerHTML = entry.html; // rendered from Markdown and sanitized by the CMS
  page.replaceChildren(element("h1", entry.fields.title), element("time", entry.fields.date), body);
}

for (const link of document.querySelectorAll("a[data-view]")) {
  link.href = here(link.dataset.view ? { view: link.dataset.view } : {});
}

document.getElementById("draft").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  sessionStorage.setItem(
    "cms-draft",
    JSON.stringify({ token: form.get("token") || "", ref: form.get("ref") || "" }),
  );
  location.reload();
});

const view = query.get("post") ? post(query.get("post")) : query.get("view") === "news" ? news() : home();
view.catch((error) => {
  page.replaceChildren(element("p", `The CMS answered ${error.message}`, { class: "error" }));
});
