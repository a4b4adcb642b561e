// Single-page mode (Tauri has no server): render in the web view only, prerender nothing;
// adapter-static writes the index.html fallback that serves every route.
export const ssr = false;
export const prerender = false;
