// The console's one script: keeps the page's live part current. Every 1.5 s it asks the desk for
// a fingerprint of its state; when that changes, it fetches the same page again and swaps in the
// new live part. The reply box is outside the live part, so what is being typed stays.
(() => {
  const live = document.getElementById('live');
  if (!live) return;
  let version = document.body.dataset.version;
  const tick = async () => {
    try {
      const answer = await fetch('/-/version', { cache: 'no-store' });
      const next = (await answer.json()).version;
      if (next !== version) {
        const page = await fetch(location.href, { cache: 'no-store' });
        const doc = new DOMParser().parseFromString(await page.text(), 'text/html');
        const fresh = doc.getElementById('live');
        if (fresh) live.replaceChildren(...Array.from(fresh.childNodes));
        version = next;
        document.body.dataset.version = next;
      }
    } catch {
      // The desk stopped or is restarting: try again on the next tick.
    }
    setTimeout(tick, 1500);
  };
  setTimeout(tick, 1500);
})();
