// nidim/tools/eval_dm/inputs.h: reading and checking what eval_dm evaluates: embeddings and
// labels from .npy files (loose, or in a run directory written by train_dim), config.json and
// the last epoch of log.jsonl.
//
// Run directory (see docs/METRICS.md): embeddings_train.npy and embeddings_test.npy are required;
// labels_train.npy, labels_test.npy, config.json and log.jsonl are optional (their absence is
// recorded and the parts that need them are reported "not applicable").
//
// Checks, each a nidim::Error naming the file: embeddings must be float32 or float64 with shape
// N x d (N >= 1, d >= 1); labels must be integers (int32, int64, uint8) with shape N or N x 1
// and as many as the embeddings have rows; train and test must have the same d; rows with NaN
// or Inf are an error unless dropping them was asked for (then they, and their labels, are
// removed and counted).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nidim::eval_dm {

// A file's device and inode: equal for two names of one file (hard links).
struct FileId {
  uint64_t device = 0, inode = 0;
  bool known() const { return inode != 0; }
  bool operator==(const FileId& o) const { return device == o.device && inode == o.inode; }
};
FileId file_id(const std::string& path);  // unknown when it cannot be read

struct EmbeddingSet {
  std::string name;  // "train" or "test"
  std::string path;
  FileId file;        // of the file read (unknown if it was replaced while being read)
  std::string dtype;  // "float32" / "float64" as stored
  int64_t n = 0, d = 0;
  std::vector<double> x;  // N x d, row-major
  std::string labels_path;
  std::vector<int64_t> labels;     // N, empty when absent
  std::string labels_missing;      // why there are no labels
  int64_t dropped_rows = 0;        // non-finite rows removed (--drop-nonfinite)
  std::vector<int64_t> file_rows;  // with dropped rows: each row's row in the file
  bool has_labels() const { return !labels.empty(); }
  // Row i's row in the file (they differ after --drop-nonfinite).
  int64_t file_row(int64_t i) const { return file_rows.empty() ? i : file_rows[i]; }
};

// labels_path may be empty (no labels) or name a file that must exist (required) or may be
// missing (labels_optional: then labels_missing says so).
EmbeddingSet load_embedding_set(const std::string& name, const std::string& path,
                                const std::string& labels_path, bool labels_optional,
                                bool drop_nonfinite);

// Throws when the two sets disagree on d.
void check_compatible(const EmbeddingSet& a, const EmbeddingSet& b);

// A line of log.jsonl with both "capacity" and "mi_estimate": the certificate at that epoch.
struct CertificateLine {
  double capacity = 0, mi_estimate = 0;
  double kl_bound = 0;
  bool has_kl_bound = false;
  int64_t epoch = -1;  // "epoch" of that line when present
};

struct RunInfo {
  std::string run_dir;         // empty for loose files
  nlohmann::json config;       // null when absent
  std::string config_missing;  // reason when null
  // The certificate of the epoch whose embeddings the run directory holds: that of the last
  // "eval" line's epoch when log.jsonl has it, else the last certificate line.
  bool has_certificate = false;
  CertificateLine certificate;
  std::map<int64_t, CertificateLine> by_epoch;  // every certificate line with an epoch
  int64_t last_eval_epoch = -1;                 // "epoch" of the last {"type": "eval"} line
  // checkpoint/state.json's "epoch" (epochs trained), -1 when absent or unreadable.
  int64_t checkpoint_epoch = -1;
  int64_t log_lines = 0;
  std::string certificate_missing;  // reason when !has_certificate
  // A run whose log says why it has no certificate (--no-noise, VICReg): that reason.
  std::string certificate_not_applicable;

  // When the checkpoint is at an epoch whose evaluation was due (config.json's eval_every and
  // epochs) but log.jsonl has no eval line for it: that epoch, else -1. The run stopped during
  // that evaluation (or is in it), so its embeddings may be that epoch's or the previous ones.
  int64_t unfinished_evaluation() const;
  // This run's information with the certificate of `epoch` (none, with a reason, when the log
  // has no certificate line for it).
  RunInfo at_epoch(int64_t epoch) const;
};

RunInfo read_run_info(const std::string& run_dir);

// Evaluations that train_dim kept for the authors' protocol (RUN/evaluations/epoch_E/ holding
// embeddings_train.npy and/or embeddings_test.npy; ssl/dim.h, protocol_window), by epoch.
struct KeptEvaluation {
  int64_t epoch = 0;
  std::string dir;
  bool complete = true;  // false: one of the files is missing (a stopped evaluation)
};
std::vector<KeptEvaluation> kept_evaluations(const std::string& run_dir);

// The prior named in config.json ("prior"), or "" when absent; throws when it is there but not
// a non-empty string, unless `overridden` (--prior was given and wins).
std::string config_prior(const RunInfo& info, bool overridden);

}  // namespace nidim::eval_dm
