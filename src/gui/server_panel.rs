//! The Server tab: the embedded HTTP server over the workbench's store.

use std::sync::Arc;

use super::command::Status;
use super::state::{Command, Workbench};
use keystroke_server::api::{Api, ApiConfig};
use keystroke_server::{ServerConfig, ServerHandle, TlsFiles};

impl Workbench {
    pub(super) fn serve(&mut self) -> Status {
        if self.server.is_some() {
            return None;
        }
        let api = Arc::new(Api::new(
            Arc::clone(&self.store),
            ApiConfig {
                min_samples: self.settings.min_samples.max(1),
                throttle: super::app::throttle_for(self.throttling),
                ..ApiConfig::default()
            },
        ));
        let (cert, key) = (
            self.settings.server_tls_cert.trim(),
            self.settings.server_tls_key.trim(),
        );
        let tls = match (cert.is_empty(), key.is_empty()) {
            (true, true) => None,
            (false, false) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            _ => return Some("HTTPS needs both a certificate and a key file".into()),
        };
        let config = ServerConfig {
            host: self.settings.server_host.clone(),
            port: self.settings.server_port,
            tls,
            ..ServerConfig::default()
        };
        match ServerHandle::start(api, &config) {
            Ok(server) => {
                let listening = format!("server listening on {}", server.addr());
                self.server = Some(server);
                self.server_throttling = self.throttling;
                Some(self.save_settings().unwrap_or(listening))
            }
            Err(e) => Some(e.to_string()),
        }
    }

    /// Stops the embedded server (finishing requests in flight).
    pub(super) fn unserve(&mut self) -> Status {
        let server = self.server.take()?;
        server.stop();
        Some("server stopped".into())
    }

    pub(super) fn server_tab(&mut self, ui: &mut egui::Ui) {
        let running = self.server.is_some();
        ui.horizontal(|ui| {
            let label = ui.label("Host:");
            ui.add_enabled(
                !running,
                egui::TextEdit::singleline(&mut self.settings.server_host).desired_width(120.0),
            )
            .labelled_by(label.id);
            let label = ui.label("Port:");
            ui.add_enabled(
                !running,
                egui::DragValue::new(&mut self.settings.server_port),
            )
            .labelled_by(label.id);
            if running {
                if ui.button("Stop server").clicked() {
                    self.commands.push(Command::StopServer);
                }
            } else if ui.button("Start server").clicked() {
                self.commands.push(Command::StartServer);
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("HTTPS certificate:");
            ui.add_enabled(
                !running,
                egui::TextEdit::singleline(&mut self.settings.server_tls_cert)
                    .hint_text("cert.pem (empty: plain HTTP)")
                    .desired_width(220.0),
            )
            .labelled_by(label.id);
            let label = ui.label("key:");
            ui.add_enabled(
                !running,
                egui::TextEdit::singleline(&mut self.settings.server_tls_key)
                    .hint_text("key.pem")
                    .desired_width(220.0),
            )
            .labelled_by(label.id);
        });
        let Some(server) = &self.server else {
            ui.label(
                "The server is stopped. It serves the mobile app's API over this store; \
                 `keystroke-workbench tls-cert` makes a certificate and key for HTTPS.",
            );
            return;
        };
        if !self.server_throttling {
            ui.label(demo_banner(
                "THROTTLING OFF (demo): /predict never locks a user out",
            ));
        }
        ui.label("Reachable at:");
        for url in server.urls() {
            ui.monospace(url);
        }
        let counts = server.stats().counts();
        ui.label(format!(
            "requests: {}  ok: {}  client errors: {}  server errors: {}",
            counts.requests, counts.ok, counts.client_errors, counts.server_errors
        ));
        ui.separator();
        for record in server.stats().recent().iter().rev().take(30) {
            ui.monospace(format!(
                "{} {} {} {} {:.2} ms {}",
                record.at.format("%H:%M:%S"),
                record.method,
                record.path,
                record.status,
                record.latency.as_secs_f64() * 1e3,
                record.user.as_ref().map_or("-", |u| u.as_str())
            ));
        }
    }
}

/// A warning that stands out: throttling is off.
pub(super) fn demo_banner(text: &str) -> egui::RichText {
    egui::RichText::new(text)
        .strong()
        .color(egui::Color32::from_rgb(255, 140, 0))
}
