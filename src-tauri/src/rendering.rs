//! How the web view draws: composited by the GPU, or painted without compositing.
//!
//! WebKitGTK composites its layers with OpenGL. On a workstation without a GPU (a virtual
//! machine, a remote desktop session, Xvfb) that OpenGL is Mesa's llvmpipe on the CPU, and
//! every frame pays for it: in the app benchmark on two cores, an idle page's frames came
//! every 39 ms (p50) and the stock grid scrolled at 61 ms per frame, where the same web view
//! without compositing held 16 ms (60 Hz) for both, equal to scrolling the same rows as
//! static markup. So the app asks for compositing only where a GPU can do it:
//!
//! - `STOCKPULSE_GPU=on` keeps WebKit's default (composite when a page asks for it);
//! - `STOCKPULSE_GPU=off` never composites;
//! - `auto` (the default) composites when the machine has a GPU device node (a DRM render
//!   node under `/dev/dri`, or NVIDIA's `/dev/nvidia0`), and never otherwise.
//!
//! `WEBKIT_DISABLE_COMPOSITING_MODE`, WebKitGTK's own switch, is left alone when set (the
//! user's word wins, and WebKit reads it itself). [`decide`] is the pure rule; [`probe`] reads
//! the machine; [`apply`] sets the web view's hardware-acceleration policy.

use std::path::Path;

/// The setting's variable.
pub const ENV: &str = "STOCKPULSE_GPU";

/// What the web view is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    /// WebKit's default: GPU compositing when a page needs layers.
    Default,
    /// No compositing: the page is painted directly (cheapest without a GPU).
    NoCompositing,
}

/// What the machine and the environment say.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `STOCKPULSE_GPU`, if set.
    pub setting: Option<String>,
    /// `WEBKIT_DISABLE_COMPOSITING_MODE` is set (WebKit applies it on its own).
    pub webkit_override: bool,
    /// A GPU device node exists.
    pub gpu: bool,
}

/// The rule of the module docs; an unknown setting is an error naming the valid ones.
pub fn decide(f: &Facts) -> Result<Rendering, String> {
    let setting = f.setting.as_deref().map(str::trim).unwrap_or("auto");
    if f.webkit_override {
        return Ok(Rendering::Default);
    }
    match setting.to_ascii_lowercase().as_str() {
        "on" => Ok(Rendering::Default),
        "off" => Ok(Rendering::NoCompositing),
        "" | "auto" if f.gpu => Ok(Rendering::Default),
        "" | "auto" => Ok(Rendering::NoCompositing),
        other => Err(format!("{ENV}={other:?}: use on, off or auto")),
    }
}

/// Whether `dev` (normally `/dev`) has a GPU device node.
pub fn has_gpu(dev: &Path) -> bool {
    let render_node = std::fs::read_dir(dev.join("dri")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    render_node || dev.join("nvidia0").exists()
}

/// The facts of this process and machine.
pub fn probe() -> Facts {
    Facts {
        setting: std::env::var(ENV).ok(),
        webkit_override: std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_some(),
        gpu: has_gpu(Path::new("/dev")),
    }
}

/// Tells the window's web view how to draw (Linux: WebKitGTK's hardware-acceleration policy).
pub fn apply(window: &tauri::WebviewWindow, rendering: Rendering) -> tauri::Result<()> {
    if rendering == Rendering::Default {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = WebViewExt::settings(&webview.inner()) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    })?;
    #[cfg(not(target_os = "linux"))]
    let _ = window;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn facts(setting: Option<&str>, webkit_override: bool, gpu: bool) -> Facts {
        Facts {
            setting: setting.map(str::to_owned),
            webkit_override,
            gpu,
        }
    }

    #[test]
    fn auto_composites_only_with_a_gpu() {
        assert_eq!(decide(&facts(None, false, true)), Ok(Rendering::Default));
        assert_eq!(
            decide(&facts(None, false, false)),
            Ok(Rendering::NoCompositing)
        );
        assert_eq!(
            decide(&facts(Some("auto"), false, false)),
            Ok(Rendering::NoCompositing)
        );
        assert_eq!(
            decide(&facts(Some(" AUTO "), false, true)),
            Ok(Rendering::Default)
        );
    }

    #[test]
    fn the_setting_forces_either_way_and_webkits_own_switch_wins() {
        assert_eq!(
            decide(&facts(Some("on"), false, false)),
            Ok(Rendering::Default)
        );
        assert_eq!(
            decide(&facts(Some("Off"), false, true)),
            Ok(Rendering::NoCompositing)
        );
        // WebKit reads its variable itself; the app adds nothing.
        assert_eq!(
            decide(&facts(Some("off"), true, false)),
            Ok(Rendering::Default)
        );
    }

    #[test]
    fn an_unknown_setting_is_refused_clearly() {
        let e = decide(&facts(Some("fast"), false, true)).unwrap_err();
        assert!(
            e.contains("STOCKPULSE_GPU") && e.contains("on, off or auto"),
            "{e}"
        );
    }

    #[test]
    fn gpu_device_nodes() {
        let dir = std::env::temp_dir().join(format!("stockpulse-dev-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("dri")).unwrap();
        assert!(!has_gpu(&dir), "an empty /dev/dri");
        std::fs::write(dir.join("dri/card0"), b"").unwrap();
        assert!(!has_gpu(&dir), "a display card without a render node");
        std::fs::write(dir.join("dri/renderD128"), b"").unwrap();
        assert!(has_gpu(&dir));
        std::fs::remove_dir_all(dir.join("dri")).unwrap();
        assert!(!has_gpu(&dir), "no /dev/dri at all");
        std::fs::write(dir.join("nvidia0"), b"").unwrap();
        assert!(has_gpu(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
