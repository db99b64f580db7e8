// /@{handle}: the page is rendered on the server; this adds the header and shows each
// price in the visitor's locale (the server wrote "12.34 USD" for the first paint).
import { header } from "/static/app.js";
import { formatMoney, initI18n } from "/static/i18n.js";

await initI18n();
header();
for (const node of document.querySelectorAll("data.price[data-currency]")) {
  node.textContent = formatMoney(Number(node.value), node.dataset.currency);
}
