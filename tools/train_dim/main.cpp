// train_dim: trains an encoder whose embeddings follow a chosen prior, by noise-injected Deep
// InfoMax (ssl/dim.h; ../shared/docs/METHOD.md), or SimCLR / VICReg with noise injection
// (ssl/contrastive.h), and writes a run directory that eval_dm reads.
//
//   train_dim --dataset mnist --prior gaussian --dim 2 --p 0.0995 --batch 1024 --epochs 2000
//   train_dim --method simclr --dataset cifar10 --data-dir DIR --p 0.1 --epochs 1000
//   train_dim --resume runs/my-run            continue from the last checkpoint
// Every default of METHOD.md §1 is a flag (train_dim --help). Ctrl-C finishes the current step,
// writes a checkpoint and exits (status 130); a second Ctrl-C aborts at once.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <algorithm>
#include <sstream>

#include <CLI/CLI.hpp>

#include "core/fpenv.h"
#include "core/io.h"
#include "core/parallel.h"
#include "kernels/cpu/blas.h"
#include "kernels/cuda/kernels_cuda.h"
#include "ssl/dim.h"
#include "tools/common/flags.h"
#include "tools/common/main.h"

using namespace nidim;

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  if (g_stop.exchange(true)) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);  // delivered when this handler returns
    return;
  }
  const char msg[] =
      "\ntrain_dim: interrupted: stopping after this step (with a checkpoint) or this evaluation "
      "phase (Ctrl-C again aborts)\n";
  (void)!::write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

std::string duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

// `s` as one shell word, for commands the user may paste.
std::string shell_word(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./:+=,@%") == std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string default_out() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", std::localtime(&now));
  return std::string("runs/train_dim-") + buf;
}

// The progress line: redrawn in place on a terminal (at most 5 times a second, and at each
// epoch's last step); elsewhere the first step and then one line every 30 seconds, so logs stay
// short.
class ProgressLine {
 public:
  explicit ProgressLine(const std::string& mode)
      : m_tty(mode == "always" || (mode == "auto" && ::isatty(STDERR_FILENO))),
        m_enabled(mode != "never") {}
  void step(const StepInfo& s) {
    if (!m_enabled) return;
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - m_last).count();
    if (since < (m_tty ? 0.2 : 30.0) && !(m_tty && s.step == s.steps_per_epoch)) return;
    m_last = now;
    const std::string line =
        fmt::format("epoch {}/{}  step {}/{}  loss {:.4f}  {}  {:.0f} img/s  ETA {}", s.epoch,
                    s.epochs, s.step, s.steps_per_epoch, s.loss, s.detail, s.images_per_second,
                    duration(s.eta_seconds));
    if (m_tty) {
      std::fprintf(stderr, "\r%-118s", line.c_str());
      m_open = true;
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  void progress(const std::string& phase, int64_t done, int64_t total) {
    if (!m_enabled || !m_tty) return;
    const auto now = std::chrono::steady_clock::now();
    if (phase == m_phase && done == m_done) return;  // drawn already
    if (std::chrono::duration<double>(now - m_last).count() < 0.2 && done != total) return;
    m_last = now;
    m_phase = phase;
    m_done = done;
    std::fprintf(stderr, "\r%-118s", fmt::format("  {} {}/{}", phase, done, total).c_str());
    m_open = true;
  }
  // Ends a redrawn line before other output.
  void clear() {
    if (m_open) std::fprintf(stderr, "\r%118s\r", "");
    m_open = false;
  }

 private:
  bool m_tty, m_enabled;
  bool m_open = false;
  std::chrono::steady_clock::time_point m_last{};
  std::string m_phase;  // the evaluation progress drawn last
  int64_t m_done = -1;
};

void print_log_line(const nlohmann::json& l) {
  if (l.value("type", "") == "epoch" && !l.contains("capacity")) {
    // No certificate (--no-noise, VICReg): the loss and the method's numbers.
    std::string s = fmt::format("epoch {}: loss {:.4f}", l["epoch"].get<int64_t>(),
                                l["loss"].get<double>());
    for (const char* k : {"mi_estimate", "invariance", "variance", "covariance", "probe_train_top1"})
      if (l.contains(k)) s += fmt::format("  {} {:.4f}", k, l[k].get<double>());
    s += fmt::format("  {:.0f} images/s  {:.1f} s", l["images_per_second"].get<double>(),
                     l["seconds"].get<double>());
    std::printf("%s\n", s.c_str());
  } else if (l.value("type", "") == "epoch") {
    std::printf(
        "epoch %lld: loss %.4f  MI %.4f nats  capacity %.4f  KL bound %.4f  %.0f images/s  %.1f "
        "s\n",
        static_cast<long long>(l["epoch"]), l["loss"].get<double>(), l["mi_estimate"].get<double>(),
        l["capacity"].get<double>(), l["kl_bound"].get<double>(),
        l["images_per_second"].get<double>(), l["seconds"].get<double>());
  } else {
    std::string s = fmt::format("eval after epoch {}:", l["epoch"].get<int64_t>());
    for (const char* k : {"knn_accuracy", "henze_zirkler_pvalue", "shapiro_pvalue",
                          "dagostino_pvalue", "probe_test_top1"})
      if (l.contains(k)) s += fmt::format("  {} {:.4f}", k, l[k].get<double>());
    if (l.contains("not_applicable"))
      s += "  metrics not applicable: " + l["not_applicable"].get<std::string>();
    if (l.size() == 2) s += "  embeddings and model written (no quick metrics)";
    if (l.contains("knn_not_applicable"))
      s += "  no kNN accuracy: " + l["knn_not_applicable"].get<std::string>();
    if (l.contains("bootstrap_not_applicable"))
      s += "  no normality p-values: " + l["bootstrap_not_applicable"].get<std::string>();
    std::printf("%s\n", s.c_str());
  }
  std::fflush(stdout);
}

int train_dim_main(int argc, char** argv) {
  CLI::App app{
      "train_dim: noise-injected Deep InfoMax; embeddings that follow a chosen prior (METHOD.md)"};
  DimConfig c;
  std::string resume, out, progress = "auto", device = "cpu", noise_form, mlp_hidden = "256,256",
                           layer_order = "paper", prior = "gaussian", bound = "infonce",
                           squash = "phi";
  double sigma = 0, p = 0, epsilon = 0;
  int64_t epochs_flag = 0;
  std::string vicreg_weights = "25,25,1";
  bool no_noise = false;
  app.add_option("--method", c.method,
                 "dim (noise-injected Deep InfoMax) | simclr | vicreg (with noise injection)")
      ->capture_default_str();
  app.add_flag("--no-noise", no_noise,
               "no channel: the plain method (no capacity, no certificate); DIM keeps its "
               "normalization, SimCLR and VICReg drop it");
  app.add_option("--dataset", c.data.name, "mnist | fashion-mnist | cifar10 | cifar100 | synthetic")
      ->capture_default_str();
  app.add_option("--data-dir", c.data.dir,
                 "the data set's folder (default: mnist $NIDIM_DATA_DIR/mnist, else data/mnist "
                 "in the working directory; fashion-mnist /usr/share/datasets/fashion-mnist; "
                 "required for cifar10 and cifar100)");
  app.add_option("--limit-train", c.data.limit_train,
                 "use only the first N training samples (0: all)");
  app.add_option("--limit-test", c.data.limit_test, "use only the first N test samples (0: all)");
  app.add_option("--prior", prior, "gaussian | uniform | laplace | logistic")
      ->capture_default_str();
  app.add_option("--noise-form", noise_form,
                 "vp (default, gaussian) | additive | rescaled (default, uniform)");
  app.add_option("--sigma", sigma,
                 "gaussian additive noise scale sigma (sets --noise-form additive; that form's "
                 "default is 0.1, the sigma whose p the default 0.0995 rounds)");
  app.add_option(
      "--p", p,
      "variance-preserving / rescaled noise parameter p (default 0.0995, i.e. sigma = 0.1)");
  app.add_option("--epsilon", epsilon,
                 "uniform additive noise width eps (sets --noise-form additive; that form's "
                 "default is 0.1105, the default p's eps)");
  app.add_option("--uniform-squash", squash,
                 "uniform prior's normalization: phi (Phi(BN(h))) | sigmoid")
      ->capture_default_str();
  app.add_option("--dim", c.dim,
                 "embedding size d (default 2; simclr 256, vicreg 2048: the projector's output)");
  app.add_option("--encoder", c.encoder,
                 "convnet | mlp (dim default) | resnet18 (simclr, vicreg default)");
  app.add_option("--resnet-stem", c.resnet_stem,
                 "resnet18's first layer: cifar (3x3 conv, no max-pool) | imagenet (7x7/2 + "
                 "max-pool)")
      ->capture_default_str();
  app.add_option("--feature-dim", c.feature_dim,
                 "simclr/vicreg with --encoder convnet or mlp: the backbone's output width")
      ->capture_default_str();
  app.add_option("--projector-hidden", c.projector_hidden, "simclr/vicreg projector's hidden width")
      ->capture_default_str();
  app.add_option("--augment", c.augment,
                 "simclr/vicreg views: simclr (crop 0.08-1) | vicreg (crop 0.2-1); default: the "
                 "method's");
  app.add_option("--weight-decay", c.weight_decay, "simclr/vicreg LARS weight decay")
      ->capture_default_str();
  app.add_option("--lars-eta", c.lars_eta, "simclr/vicreg LARS trust coefficient")
      ->capture_default_str();
  app.add_option("--warmup-epochs", c.warmup_epochs,
                 "simclr/vicreg linear warm-up epochs before the cosine decay")
      ->capture_default_str();
  app.add_option("--probe-lr", c.probe_lr, "simclr/vicreg online linear probe's SGD rate")
      ->capture_default_str();
  app.add_option("--vicreg-weights", vicreg_weights,
                 "vicreg: invariance,variance,covariance weights")
      ->capture_default_str();
  app.add_option("--layer-order", layer_order,
                 "convnet blocks: paper (conv, avgpool, lrelu, bn) | followup "
                 "(conv, maxpool, bn, lrelu)")
      ->capture_default_str();
  app.add_option("--mlp-hidden", mlp_hidden, "mlp encoder's hidden widths, comma-separated")
      ->capture_default_str();
  app.add_option("--augment-sigma", c.augment_sigma,
                 "second view x' = x + N(0, s^2) per pixel (grey images)")
      ->capture_default_str();
  app.add_option("--critic", c.critic,
                 "mlp (joint, the paper's) | dot | cosine | gaussian (kernel)")
      ->capture_default_str();
  app.add_option("--critic-hidden", c.critic_hidden, "joint critic's hidden width")
      ->capture_default_str();
  app.add_option("--temperature", c.temperature,
                 "dot / cosine critic temperature (default 0.1); simclr's NT-Xent (default 0.2)");
  app.add_option("--head-dim", c.head_dim, "dot / cosine critic projection heads' width (0: none)")
      ->capture_default_str();
  app.add_option("--kernel-bandwidth", c.kernel_bandwidth,
                 "gaussian critic's s (0: sqrt(2) x one view's noise)")
      ->capture_default_str();
  app.add_option("--bound", bound, "infonce | dv | nwj")->capture_default_str();
  app.add_option("--dv-ema", c.dv_ema, "DV bound's moving-average rate")->capture_default_str();
  app.add_option("--batch", c.batch, "batch size B (default 1024; simclr, vicreg 256)");
  app.add_option("--epochs", epochs_flag, "epochs (default 10; with --resume: the new total)");
  app.add_option("--lr", c.lr,
                 "dim: encoder learning rate (Adam, default 1e-3); simclr/vicreg: LARS base rate "
                 "per 256 samples (default 0.4 / 0.3; the rate is lr x batch / 256)");
  app.add_option("--critic-lr", c.critic_lr, "critic learning rate (Adam)")->capture_default_str();
  app.add_option("--seed", c.seed, "seed of every random draw")
      ->check(tools::seed_value())
      ->capture_default_str();
  app.add_option("--threads", c.threads, "threads (0: all cores)")->capture_default_str();
  app.add_option("--loader-workers", c.loader_workers,
                 "data loader threads (0: load in the training thread; default 1, 4 with "
                 "--device cuda)")
      ->capture_default_str();
  app.add_option("--device", device, "cpu | cuda | cuda:N")->capture_default_str();
  bool tf32 = false;
  app.add_flag("--tf32", tf32,
               "CUDA: matrix products on TF32 tensor cores (faster, ~1e-3 relative precision)");
  std::string cudnn_algorithms;
  app.add_option("--cudnn-algorithms", cudnn_algorithms,
                 "CUDA: adopt the convolution algorithms of an earlier run "
                 "(RUN/checkpoint/cudnn_algorithms.txt), to repeat it bit for bit");
  app.add_option("--out", out, "run directory (default runs/train_dim-<date>-<time>)");
  app.add_option("--eval-every", c.eval_every,
                 "epochs between evaluations (0: only at the end; the last epoch is always "
                 "evaluated)")
      ->capture_default_str();
  app.add_option("--protocol-window", c.protocol_window,
                 "evaluations in the last N epochs keep their embeddings in "
                 "RUN/evaluations/epoch_E/ for eval_dm's mean +- std (the authors' protocol: "
                 "every 50 epochs, last 101); 0: keep none")
      ->capture_default_str();
  app.add_option("--checkpoint-every", c.checkpoint_every,
                 "steps between checkpoints inside an epoch (0: epoch ends)")
      ->capture_default_str();
  app.add_option("--tile-rows", c.tile_rows, "joint critic: rows per tile (0: automatic)")
      ->capture_default_str();
  app.add_flag("--eval-at-start", c.eval_at_start,
               "also evaluate the untrained encoder (logged as epoch 0)");
  app.add_flag("!--no-quick-metrics", c.quick_metrics,
               "skip kNN accuracy and normality p-values at evaluations");
  app.add_option("--metric-repetitions", c.metric_repetitions,
                 "bootstrap repetitions of the quick metrics")
      ->capture_default_str();
  app.add_option("--metric-subsample", c.metric_subsample, "rows per bootstrap repetition")
      ->capture_default_str();
  app.add_option("--resume", resume, "continue the run in this directory from its checkpoint");
  app.add_option("--progress", progress, "auto | always | never")->capture_default_str();
  bool keep_denormals = false;
  app.add_flag("--keep-denormals", keep_denormals,
               "compute with denormal floats (default: flush them to zero, "
               "which is much faster where they occur)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  NIDIM_CHECK(progress == "auto" || progress == "always" || progress == "never",
              "--progress '{}': expected auto, always or never", progress);

  NIDIM_CHECK(app.count("--epochs") == 0 || epochs_flag >= 1, "--epochs must be >= 1, got {}",
              epochs_flag);

  NIDIM_CHECK(app.count("--resume") == 0 || !resume.empty(),
              "--resume: the run directory's name is empty");
  std::unique_ptr<DimTrainer> trainer;
  if (!resume.empty()) {
    for (const CLI::Option* opt : app.get_options()) {
      const std::string flag = opt->get_name();
      NIDIM_CHECK(opt->count() == 0 || flag == "--resume" || flag == "--epochs" ||
                      flag == "--progress" || flag == "--data-dir",
                  "--resume takes the run's settings from {}/config.json; {} cannot be "
                  "given with it (only --epochs, --progress, and --data-dir for data that moved)",
                  resume, flag);
    }
    trainer = DimTrainer::resume(resume, epochs_flag, c.data.dir);
    if (trainer->complete()) {
      std::printf(
          "train_dim: %s is complete (%lld epoch(s), evaluated); give --epochs with a larger "
          "number to train it further\n",
          resume.c_str(), static_cast<long long>(trainer->epoch()));
      return 0;
    }
    if (trainer->epoch() >= trainer->config().epochs)
      std::printf("train_dim: resuming %s: the evaluation after epoch %lld\n", resume.c_str(),
                  static_cast<long long>(trainer->epoch()));
    else
      std::printf("train_dim: resuming %s at epoch %lld, batch %lld\n", resume.c_str(),
                  static_cast<long long>(trainer->epoch() + 1),
                  static_cast<long long>(trainer->next_batch()));
  } else {
    c.epochs = epochs_flag > 0 ? epochs_flag : 10;
    const std::vector<std::string> methods = method_names();
    NIDIM_CHECK(std::find(methods.begin(), methods.end(), c.method) != methods.end(),
                "--method '{}': expected dim, simclr or vicreg", c.method);
    const bool ssl = c.ssl();
    // The SSL methods' defaults are their recipes' (solo-learn's CIFAR settings).
    if (ssl) {
      if (app.count("--encoder") == 0) c.encoder = "resnet18";
      if (app.count("--dim") == 0) c.dim = c.method == "simclr" ? 256 : 2048;
      if (app.count("--batch") == 0) c.batch = 256;
      if (app.count("--lr") == 0) c.lr = c.method == "simclr" ? 0.4 : 0.3;
      if (app.count("--temperature") == 0) c.temperature = 0.2;
      if (app.count("--augment") == 0) c.augment = c.method;
      std::vector<double> w;
      std::stringstream parts(vicreg_weights);
      for (std::string part; std::getline(parts, part, ',');) {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(part, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        NIDIM_CHECK(used == part.size() && used > 0,
                    "--vicreg-weights '{}': expected three comma-separated numbers", vicreg_weights);
        w.push_back(v);
      }
      NIDIM_CHECK(w.size() == 3, "--vicreg-weights '{}': expected three comma-separated numbers",
                  vicreg_weights);
      c.vicreg_invariance = w[0];
      c.vicreg_variance = w[1];
      c.vicreg_covariance = w[2];
    }
    c.noise = !no_noise;
    c.layer_order = parse_layer_order(layer_order);
    c.bound = parse_bound(bound);
    c.channel.prior = parse_prior_name(prior);
    NIDIM_CHECK(squash == "phi" || squash == "sigmoid",
                "--uniform-squash '{}': expected phi or sigmoid", squash);
    c.channel.squash = squash == "phi" ? UniformSquash::phi : UniformSquash::sigmoid;
    const bool uni = uniform_base(c.channel.prior);
    const int given =
        (app.count("--sigma") > 0) + (app.count("--p") > 0) + (app.count("--epsilon") > 0);
    NIDIM_CHECK(given <= 1, "give the noise level once: --sigma, --p or --epsilon");
    NIDIM_CHECK(app.count("--sigma") == 0 || !uni,
                "--sigma is the gaussian noise scale; the uniform prior takes "
                "--epsilon (additive) or --p (rescaled)");
    NIDIM_CHECK(app.count("--epsilon") == 0 || uni,
                "--epsilon is the uniform noise width; {} takes --sigma or --p", prior);
    if (!noise_form.empty())
      c.channel.form = parse_noise_form(noise_form);
    else if (app.count("--sigma") || app.count("--epsilon"))
      c.channel.form = NoiseForm::additive;
    else
      c.channel.form = uni ? NoiseForm::rescaled : NoiseForm::variance_preserving;
    // Without a level, the default p = 0.0995 (the authors' sigma = 0.1, rounded), or with
    // --noise-form additive sigma = 0.1 itself, or the uniform eps = p / (1 - p).
    const double p_default = 0.0995;
    const double additive_default = uni ? p_default / (1 - p_default) : 0.1;
    c.channel.level = app.count("--sigma")                    ? sigma
                      : app.count("--epsilon")                ? epsilon
                      : app.count("--p")                      ? p
                      : c.channel.form == NoiseForm::additive ? additive_default
                                                              : p_default;
    NIDIM_CHECK(!(c.channel.form == NoiseForm::additive && app.count("--p")),
                "--p is the variance-preserving/rescaled parameter; with --noise-form additive "
                "give --sigma or --epsilon");
    NIDIM_CHECK(c.channel.form == NoiseForm::additive ||
                    (app.count("--sigma") == 0 && app.count("--epsilon") == 0),
                "--{} is the additive noise's level; with --noise-form {} give --p",
                app.count("--sigma") ? "sigma" : "epsilon", noise_form);
    c.mlp_hidden.clear();
    std::stringstream widths(mlp_hidden);
    for (std::string w; std::getline(widths, w, ',');) {
      NIDIM_CHECK(
          !w.empty() && w.size() <= 9 && w.find_first_not_of("0123456789") == std::string::npos,
          "--mlp-hidden '{}': expected comma-separated positive integers", mlp_hidden);
      c.mlp_hidden.push_back(std::stoll(w));
    }
    c.flush_denormals = !keep_denormals;
    c.device = device;
    c.tf32 = tf32;
    // On a GPU a step takes milliseconds and one loader thread cannot keep up (an MNIST batch of
    // 1024 with its noise views takes it about as long as an H200's step): four by default. The
    // batches do not depend on the number of loader threads.
    if (app.count("--loader-workers") == 0 && device.rfind("cuda", 0) == 0) c.loader_workers = 4;
    c.validate();
    NIDIM_CHECK(!tf32 || device.rfind("cuda", 0) == 0,
                "--tf32: only with --device cuda (the CPU computes in float32)");
    // A flag that this run's dataset, encoder, critic, bound or prior does not use is refused:
    // config.json would record it as if it had taken effect.
    const bool dim = !ssl, separable = dim && (c.critic == "dot" || c.critic == "cosine");
    const bool backbone_width = ssl && c.encoder != "resnet18";
    const struct {
      const char* flag;
      bool used;
      const char* by;
    } applies[] = {
        {"--augment-sigma", dim && c.data.name != "cifar10" && c.data.name != "cifar100",
         "--dataset mnist, fashion-mnist or synthetic (grey images; CIFAR's two views are "
         "SimCLR's augmentations) with --method dim"},
        // The normalization squashes without noise too, except in the plain SSL methods.
        {"--uniform-squash", uni && (dim || c.noise), "--prior uniform"},
        {"--noise-form", c.noise, "runs with noise (not --no-noise)"},
        {"--p", c.noise, "runs with noise (not --no-noise)"},
        {"--sigma", c.noise, "runs with noise (not --no-noise)"},
        {"--epsilon", c.noise, "runs with noise (not --no-noise)"},
        {"--critic", dim, "--method dim"},
        {"--bound", dim, "--method dim"},
        {"--resnet-stem", c.encoder == "resnet18", "--encoder resnet18"},
        {"--feature-dim", backbone_width, "--method simclr or vicreg with --encoder convnet or mlp"},
        {"--projector-hidden", ssl, "--method simclr or vicreg"},
        {"--augment", ssl, "--method simclr or vicreg"},
        {"--weight-decay", ssl, "--method simclr or vicreg"},
        {"--lars-eta", ssl, "--method simclr or vicreg"},
        {"--warmup-epochs", ssl, "--method simclr or vicreg"},
        {"--probe-lr", ssl, "--method simclr or vicreg"},
        {"--vicreg-weights", c.method == "vicreg", "--method vicreg"},
        {"--layer-order", c.encoder == "convnet", "--encoder convnet"},
        {"--mlp-hidden", c.encoder == "mlp", "--encoder mlp"},
        {"--critic-hidden", dim && c.critic == "mlp", "--critic mlp"},
        {"--tile-rows", dim && c.critic == "mlp", "--critic mlp"},
        {"--temperature", separable || c.method == "simclr",
         "--critic dot or cosine, or --method simclr"},
        {"--head-dim", separable, "--critic dot or cosine"},
        {"--kernel-bandwidth", dim && c.critic == "gaussian", "--critic gaussian"},
        {"--dv-ema", dim && c.bound == BoundKind::dv, "--bound dv"},
        {"--critic-lr", dim && c.critic_has_parameters(),
         "a critic with parameters (mlp; dot or cosine with --head-dim; gaussian with --bound "
         "nwj)"},
        {"--data-dir", c.data.name != "synthetic",
         "--dataset mnist, fashion-mnist, cifar10 or cifar100"},
        {"--metric-repetitions", c.quick_metrics,
         "runs with quick metrics (no --no-quick-metrics)"},
        {"--metric-subsample", c.quick_metrics, "runs with quick metrics (no --no-quick-metrics)"},
    };
    for (const auto& a : applies)
      NIDIM_CHECK(a.used || app.count(a.flag) == 0,
                  "{}: applies to {} only; this run ({}) would not use it", a.flag, a.by,
                  ssl ? fmt::format("--method {}, --dataset {}, --encoder {}{}", c.method,
                                    c.data.name, c.encoder, c.noise ? "" : ", --no-noise")
                      : fmt::format("--dataset {}, --encoder {}, --critic {}, --bound {}, "
                                    "--prior {}{}",
                                    c.data.name, c.encoder, c.critic, bound, prior,
                                    c.noise ? "" : ", --no-noise"));
    if (!cudnn_algorithms.empty()) {
      const Device dev = parse_device(c.device);
      NIDIM_CHECK(dev.is_cuda(), "--cudnn-algorithms {}: only with --device cuda",
                  cudnn_algorithms);
      const std::vector<uint8_t> bytes = read_file(cudnn_algorithms);
      std::string why;
      const int64_t n =
          set_conv_algorithms_cuda(std::string(bytes.begin(), bytes.end()), dev.index, &why);
      NIDIM_CHECK(n > 0 || why.empty(), "--cudnn-algorithms {}: {}", cudnn_algorithms, why);
      std::printf("train_dim: %lld convolution algorithms from %s\n", static_cast<long long>(n),
                  cudnn_algorithms.c_str());
    }
    // The default name is made unique (-2, -3, ...) should two runs start in the same second.
    trainer = std::make_unique<DimTrainer>(c, out.empty() ? default_out() : out, out.empty());
  }
  const RunConfig& cfg = trainer->config();
  const std::string noise = cfg.noise ? cfg.channel.describe() : std::string("no noise");
  if (cfg.ssl())
    std::printf("train_dim: %s with %s; data %s; encoder %s, embedding %lld, batch %lld, %lld "
                "epochs, %d threads\n",
                cfg.method.c_str(), noise.c_str(), cfg.data.name.c_str(), cfg.encoder.c_str(),
                static_cast<long long>(cfg.dim), static_cast<long long>(cfg.batch),
                static_cast<long long>(cfg.epochs), num_threads());
  else
    std::printf(
        "train_dim: %s; data %s; encoder %s, critic %s, bound %s, batch %lld, %lld epochs, %d "
        "threads\n",
        noise.c_str(), cfg.data.name.c_str(), cfg.encoder.c_str(), cfg.critic.c_str(),
        bound_label(cfg.bound), static_cast<long long>(cfg.batch),
        static_cast<long long>(cfg.epochs), num_threads());
  std::printf("train_dim: BLAS %s\n", blas_info().c_str());
  std::printf("train_dim: run directory %s\n", trainer->run_dir().c_str());
  std::fflush(stdout);

  ProgressLine line(progress);
  TrainHooks hooks;
  hooks.stop = &g_stop;
  hooks.on_step = [&](const StepInfo& s) { line.step(s); };
  hooks.on_progress = [&](const std::string& phase, int64_t done, int64_t total) {
    line.progress(phase, done, total);
  };
  hooks.on_log = [&](const nlohmann::json& l) {
    line.clear();
    print_log_line(l);
  };
  hooks.on_note = [&](const std::string& s) {
    line.clear();
    std::fprintf(stderr, "train_dim: %s\n", s.c_str());
  };
  std::signal(SIGINT, on_sigint);
  const RunOutcome outcome = trainer->run(hooks);
  std::signal(SIGINT, SIG_DFL);
  line.clear();
  const std::string& dir = trainer->run_dir();
  if (outcome == RunOutcome::interrupted) {
    const std::string kept =
        file_exists(dir + "/checkpoint/checkpoint.safetensors")
            ? fmt::format("checkpoint in {}/checkpoint", dir)
            : std::string("no checkpoint yet (a resumed run starts from the beginning)");
    std::printf("train_dim: stopped %s; %s. Resume with:\n  train_dim --resume %s\n",
                trainer->stopped_at().c_str(), kept.c_str(), shell_word(dir).c_str());
    return 130;
  }
  std::printf(
      "train_dim: done. %s/: model.safetensors, embeddings_{train,test}.npy, %s"
      "labels_{train,test}.npy, config.json, log.jsonl, checkpoint/%s\n  evaluate with: eval_dm "
      "%s%s\n",
      dir.c_str(), cfg.ssl() ? "features_{train,test}.npy, " : "",
      file_exists(dir + "/evaluations") ? ", evaluations/" : "", shell_word(dir).c_str(),
      cfg.ssl() ? " --probe" : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nidim::tools::run_tool("train_dim", [&] { return train_dim_main(argc, argv); });
}
