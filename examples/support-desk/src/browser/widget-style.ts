/**
 * The widget's stylesheet, inside its shadow root so the host page's CSS cannot break it.
 * Theming goes through CSS custom properties set from data-* attributes (docs/widget.md).
 */
export const widgetCss = `
:host { all: initial; --kefu-accent: #2563eb; --kefu-accent-text: #fff; --kefu-bg: #fff; --kefu-text: #111827;
  --kefu-muted: #6b7280; --kefu-bubble: #f3f4f6; --kefu-radius: 14px; --kefu-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; font-family: var(--kefu-font); }
.launcher { position: fixed; bottom: 20px; right: 20px; width: 56px; height: 56px; border-radius: 50%; border: 0; display: flex; align-items: center; justify-content: center;
  background: var(--kefu-accent); color: var(--kefu-accent-text); font-size: 26px; cursor: pointer; box-shadow: 0 6px 20px rgba(0,0,0,.25); z-index: 2147483000; }
:host([data-position="left"]) .launcher, :host([data-position="left"]) .panel { right: auto; left: 20px; }
.panel { position: fixed; bottom: 88px; right: 20px; width: 370px; height: min(600px, calc(100vh - 110px)); display: none; flex-direction: column;
  background: var(--kefu-bg); color: var(--kefu-text); border-radius: var(--kefu-radius); box-shadow: 0 10px 40px rgba(0,0,0,.25); overflow: hidden; z-index: 2147483000; }
.panel.open { display: flex; }
header { background: var(--kefu-accent); color: var(--kefu-accent-text); padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
header .title { font-weight: 600; flex: 1; }
header .state { font-size: 12px; opacity: .85; }
header button { background: transparent; border: 0; color: inherit; font-size: 20px; cursor: pointer; }
.banner { padding: 8px 12px; font-size: 13px; background: #fef3c7; color: #92400e; display: none; }
.banner.show { display: block; }
.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; background: var(--kefu-bg); }
.msg { max-width: 80%; padding: 8px 11px; border-radius: var(--kefu-radius); background: var(--kefu-bubble); font-size: 14px; line-height: 1.35; white-space: pre-wrap; word-wrap: break-word; }
.msg.me { align-self: flex-end; background: var(--kefu-accent); color: var(--kefu-accent-text); }
.msg.bot { border: 1px solid #e5e7eb; background: #eef2ff; }
.msg.system { align-self: center; background: transparent; color: var(--kefu-muted); font-size: 12px; }
.msg .who { display: block; font-size: 11px; opacity: .7; margin-bottom: 2px; }
.msg .meta { display: block; font-size: 10px; opacity: .75; text-align: right; margin-top: 2px; }
.msg.pending { opacity: .6; }
.typing { font-size: 12px; color: var(--kefu-muted); padding: 0 12px 4px; min-height: 18px; }
.actions { display: flex; gap: 6px; padding: 6px 10px; border-top: 1px solid #e5e7eb; }
.actions button { font-size: 12px; border: 1px solid var(--kefu-accent); color: var(--kefu-accent); background: transparent; border-radius: 999px; padding: 4px 10px; cursor: pointer; }
form.composer { display: flex; gap: 6px; padding: 8px 10px 10px; }
form.composer input { flex: 1; font-size: 16px; padding: 9px 11px; border-radius: 999px; border: 1px solid #d1d5db; outline: none; }
form.composer button { border: 0; background: var(--kefu-accent); color: var(--kefu-accent-text); border-radius: 999px; padding: 0 14px; font-size: 14px; cursor: pointer; }
.rating { display: none; padding: 10px; text-align: center; border-top: 1px solid #e5e7eb; font-size: 14px; }
.rating.show { display: block; }
.rating button { font-size: 24px; background: transparent; border: 0; cursor: pointer; color: #f59e0b; }
@media (max-width: 480px) {
  .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; bottom: 0; right: 0; }
  .launcher { bottom: 14px; right: 14px; }
}
`;
