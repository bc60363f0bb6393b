//! The Server tab: the embedded HTTP server over the workbench's store.

use std::sync::Arc;

use chrono::Local;

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
                security: self.security,
                api_token: Some(self.server_token.trim().to_string()).filter(|t| !t.is_empty()),
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
                self.server_security = self.security;
                Some(self.save_settings().unwrap_or(listening))
            }
            Err(e) => Some(e.to_string()),
        }
    }

    /// Stops the embedded server (finishing requests in flight).
    pub(super) fn unserve(&mut self) -> Status {
        let server = self.server.take()?;
        server.stop();
        self.enrolment_code = None;
        Some("server stopped".into())
    }

    /// A new enrolment code for the collection page, shown on the Server tab.
    pub(super) fn new_enrolment_code(&mut self) -> Status {
        let server = self.server.as_ref()?;
        let Some(code) = server
            .api()
            .issue_enrolment_code(Local::now().naive_local(), None)
        else {
            return Some("the server has no API token: the page enrols without a code".into());
        };
        let status = format!(
            "enrolment code {} for one participant, until {}",
            code.code,
            code.expires_at.format("%H:%M")
        );
        self.enrolment_code = Some(code);
        Some(status)
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
        ui.horizontal(|ui| {
            let label = ui.label("API token:");
            ui.add_enabled(
                !running,
                egui::TextEdit::singleline(&mut self.server_token)
                    .password(true)
                    .hint_text("empty: /train is open to the LAN")
                    .desired_width(220.0),
            )
            .labelled_by(label.id);
            ui.label("(not saved)");
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
        ui.label(format!(
            "security level: {} (as it was when the server started)",
            self.server_security
        ));
        let urls = server.urls();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.label("Reachable at:");
                for url in &urls {
                    ui.monospace(url);
                }
                ui.add_space(6.0);
                let page = collection_url(&urls);
                ui.label("Collection page (scan with a phone on the same network):");
                ui.monospace(&page);
                if page.contains("://127.") || page.contains("://[::1]") {
                    ui.label("Only this computer can open it: set Host to 0.0.0.0 for the LAN.");
                }
                if server.api().config().api_token.is_some() {
                    ui.add_space(6.0);
                    if ui.button("New enrolment code").clicked() {
                        self.commands.push(Command::NewEnrolmentCode);
                    }
                    match &self.enrolment_code {
                        Some(code) => {
                            ui.label(egui::RichText::new(&code.code).monospace().size(28.0));
                            ui.label(format!(
                                "one participant, until {}",
                                code.expires_at.format("%H:%M")
                            ));
                        }
                        None => {
                            ui.label(
                                "Enrolling from the page needs a code (the token stays here).",
                            );
                        }
                    }
                }
            });
            qr_code(ui, &collection_url(&urls));
        });
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

/// The collection page's address for other devices: the first LAN URL, else the first.
fn collection_url(urls: &[String]) -> String {
    let lan = urls
        .iter()
        .find(|u| !u.contains("://127.") && !u.contains("://[::1]"));
    let base = lan.or(urls.first()).map_or("", String::as_str);
    format!("{base}/collect")
}

/// `text` as a QR code, drawn module by module (black on white with the standard quiet zone).
fn qr_code(ui: &mut egui::Ui, text: &str) {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        ui.label("(the address is too long for a QR code)");
        return;
    };
    let modules = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let scale = 4.0;
    let side = (modules + 2 * quiet) as f32 * scale;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
    response.on_hover_text(text);
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, egui::Color32::WHITE);
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = ((i % modules + quiet) as f32, (i / modules + quiet) as f32);
            let min = rect.min + egui::vec2(x * scale, y * scale);
            painter.rect_filled(
                egui::Rect::from_min_size(min, egui::vec2(scale, scale)),
                0.0,
                egui::Color32::BLACK,
            );
        }
    }
}

/// A warning that stands out: throttling is off.
pub(super) fn demo_banner(text: &str) -> egui::RichText {
    egui::RichText::new(text)
        .strong()
        .color(egui::Color32::from_rgb(255, 140, 0))
}
