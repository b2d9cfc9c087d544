// First-run sign-up: preselect the browser's own time zone (the owner can still change it).
const select = document.getElementById('timezone');
if (select && !select.dataset.chosen) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if ([...select.options].some(o => o.value === zone)) select.value = zone;
}
