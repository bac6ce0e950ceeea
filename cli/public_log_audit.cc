#include "cli/public_log_audit.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/audit_client.h"
#include "cli/public_log_record.h"
#include "cli/public_log_state.h"
#include "common/base/files.h"
#include "common/base/status.h"
#include "common/crypto/hashing.h"
#include "common/transparency/cosigned_checkpoint.h"
#include "common/transparency/merkle.h"
#include "common/transparency/signed_note.h"
#include "common/transparency/tile_path.h"
#include "common/transparency/tiles.h"
#include "common/transparency/tlog_proof.h"

namespace mecai {
namespace {

// Mismatching hashes named one by one per kind, before the rest are only counted.
constexpr size_t kMaxNamedMismatches = 10;

// The tile of `level` and `index` holding `width` hashes, full or partial.
TileCoordinates TileAt(bool entries, unsigned level, uint64_t index, uint64_t width) {
  return TileCoordinates{entries, level, index, static_cast<uint32_t>(width)};
}

// Appends `problems` to `report`, the first kMaxNamedMismatches in full and a count of the rest.
void AddNamed(const std::vector<std::string>& problems, size_t total, PublicLogAuditReport* report,
              absl::string_view what) {
  for (const std::string& problem : problems) report->problems.push_back(problem);
  if (total > problems.size()) {
    report->problems.push_back(absl::StrCat("and ", total - problems.size(), " more ", what));
  }
}

// Step 1: the checkpoint served, verified with the vkey, and cosigned by the witnesses the
// options require. nullopt (with the problem in `report`) when it does not verify.
absl::StatusOr<std::optional<PublicLogState>> FetchVerifiedCheckpoint(
    const PublicLogClient& log, const NoteVerifierKey& vkey, const PublicLogAuditOptions& options,
    std::ostream& out, PublicLogAuditReport* report) {
  ASSIGN_OR_RETURN(std::string note, log.Checkpoint());
  absl::StatusOr<OpenedNote> opened = OpenSignedNote(note, {vkey});
  if (!opened.ok()) {
    report->problems.push_back(
        absl::StrCat("the checkpoint at ", log.UrlOf("checkpoint"),
                     " does not verify with the vkey: ", opened.status().message()));
    return std::optional<PublicLogState>();
  }
  absl::StatusOr<TlogCheckpoint> checkpoint = ParseCheckpointText(opened->text);
  if (!checkpoint.ok()) {
    report->problems.push_back(
        absl::StrCat("the checkpoint at ", log.UrlOf("checkpoint"),
                     " is signed but malformed: ", checkpoint.status().message()));
    return std::optional<PublicLogState>();
  }
  if (checkpoint->origin != vkey.name) {
    report->problems.push_back(absl::StrCat("the checkpoint is of origin \"", checkpoint->origin,
                                            "\", but the vkey is that of \"", vkey.name, "\""));
    return std::optional<PublicLogState>();
  }
  if (options.min_cosignatures > 0) {
    absl::StatusOr<CosignedCheckpoint> cosigned =
        VerifyCosignedCheckpoint(note, vkey, options.witnesses, options.min_cosignatures);
    if (!cosigned.ok()) {
      report->problems.push_back(
          absl::StrCat("the checkpoint at ", log.UrlOf("checkpoint"),
                       " is not cosigned as required: ", cosigned.status().message()));
      return std::optional<PublicLogState>();
    }
    out << "cosigned by " << absl::StrJoin(cosigned->cosigners, ", ") << "\n";
  }
  report->checkpoint = *checkpoint;
  report->checkpoint_verified = true;
  out << "checkpoint: " << DescribeHead(*checkpoint) << ", signed by the vkey's key\n";
  return std::optional<PublicLogState>(PublicLogState{*std::move(checkpoint), std::move(note)});
}

// The leaf hashes of the tree: as the entries make them, and as the level-0 tiles serve them.
struct Leaves {
  MerkleTree from_entries;
  MerkleTree from_tiles;
  // Leaves where the two disagree: named (up to kMaxNamedMismatches) and counted.
  std::vector<uint64_t> mismatches;
  size_t mismatch_count = 0;
  // False when a bundle or tile could not be read whole (the problem is in the report).
  bool complete = true;
};

using EntryVisitor = std::function<void(uint64_t index, absl::string_view entry)>;

// Step 2a: every entry bundle and level-0 tile of the tree of `size` leaves.
absl::Status ReadLeaves(const PublicLogClient& log, uint64_t size, const EntryVisitor& visit,
                        Leaves* leaves, PublicLogAuditReport* report) {
  for (uint64_t first = 0, tile = 0; first < size; first += kTileWidth, ++tile) {
    const uint64_t width = std::min<uint64_t>(kTileWidth, size - first);
    const TileCoordinates bundle_at = TileAt(true, 0, tile, width);
    const TileCoordinates hashes_at = TileAt(false, 0, tile, width);
    ASSIGN_OR_RETURN(std::string bundle, log.Tile(bundle_at));
    ASSIGN_OR_RETURN(std::string hashes, log.Tile(hashes_at));
    ++report->bundles_checked;
    ++report->tiles_checked;
    absl::StatusOr<std::vector<std::string>> entries = ParseEntryBundle(bundle);
    if (!entries.ok() || entries->size() != width) {
      report->problems.push_back(
          absl::StrCat("entry bundle ", TilePath(bundle_at), " (entries ", first, "..",
                       first + width - 1, ") does not hold ", width, " entries: ",
                       entries.ok() ? absl::StrCat(entries->size(), " entries")
                                    : std::string(entries.status().message())));
      leaves->complete = false;
      return absl::OkStatus();
    }
    for (uint64_t i = 0; i < width; ++i) {
      const std::string leaf_hash = LeafHash((*entries)[i]);
      const absl::string_view served(hashes.data() + i * kMerkleHashBytes, kMerkleHashBytes);
      RETURN_IF_ERROR(leaves->from_entries.AppendLeafHash(leaf_hash));
      RETURN_IF_ERROR(leaves->from_tiles.AppendLeafHash(served));
      if (leaf_hash != served) {
        if (leaves->mismatches.size() < kMaxNamedMismatches) {
          leaves->mismatches.push_back(first + i);
        }
        ++leaves->mismatch_count;
      }
      visit(first + i, (*entries)[i]);
    }
  }
  return absl::OkStatus();
}

// Where entry `index` is served: its bundle and its position there.
std::string EntryPlace(uint64_t index, uint64_t size) {
  const uint64_t tile = index / kTileWidth;
  const uint64_t width = std::min<uint64_t>(kTileWidth, size - tile * kTileWidth);
  return absl::StrCat(TilePath(TileAt(true, 0, tile, width)), " entry ", index % kTileWidth,
                      ", and hash ", index % kTileWidth, " of ",
                      TilePath(TileAt(false, 0, tile, width)));
}

// Step 2b: the tree the entries make against the checkpoint, and the leaf hashes the level-0
// tiles serve against both. Returns the tree that makes the checkpoint's root, if one does.
const MerkleTree* CompareRoots(const Leaves& leaves, const TlogCheckpoint& checkpoint,
                               PublicLogAuditReport* report) {
  const uint64_t size = checkpoint.tree_size;
  const bool entries_match =
      leaves.from_entries.RootHash(size).value_or("") == checkpoint.root_hash;
  const bool tiles_match = leaves.from_tiles.RootHash(size).value_or("") == checkpoint.root_hash;
  std::vector<std::string> named;
  for (uint64_t index : leaves.mismatches) {
    if (entries_match) {
      named.push_back(absl::StrCat("level-0 tile hash of entry ", index, " (",
                                   EntryPlace(index, size), ") is not the hash of entry ", index,
                                   ", which the signed tree holds: the tile is wrong"));
    } else if (tiles_match) {
      named.push_back(absl::StrCat("entry ", index, " (", EntryPlace(index, size),
                                   ") does not hash to leaf ", index,
                                   " of the signed tree: the entry was altered"));
    } else {
      named.push_back(absl::StrCat("entry ", index, " (", EntryPlace(index, size),
                                   ") and its level-0 tile hash disagree"));
    }
  }
  AddNamed(named, leaves.mismatch_count, report, "entries whose hash and tile disagree");
  if (entries_match) return &leaves.from_entries;
  report->problems.push_back(
      absl::StrCat("the ", size, " entries make the root ",
                   Base64Encode(leaves.from_entries.RootHash(size).value_or("")),
                   ", not the checkpoint's ", Base64Encode(checkpoint.root_hash),
                   tiles_match ? "" : " (the level-0 tiles do not make it either)"));
  return tiles_match ? &leaves.from_tiles : nullptr;
}

// Step 2c: the tiles of levels 1 and up hold the hashes the entries make.
absl::Status CheckUpperTiles(const PublicLogClient& log, const MerkleTree& tree, uint64_t size,
                             PublicLogAuditReport* report) {
  std::vector<std::string> named;
  size_t total = 0;
  for (unsigned level = 1; level <= kMaxTileLevel; ++level) {
    // Hashes of level `level`: complete subtrees of 256^level leaves.
    const unsigned height = kTileHeight * level;
    if (height >= 64) break;
    const uint64_t count = size >> height;
    if (count == 0) break;
    for (uint64_t first = 0, tile = 0; first < count; first += kTileWidth, ++tile) {
      const uint64_t width = std::min<uint64_t>(kTileWidth, count - first);
      const TileCoordinates at = TileAt(false, level, tile, width);
      ASSIGN_OR_RETURN(std::string hashes, log.Tile(at));
      ++report->tiles_checked;
      for (uint64_t i = 0; i < width; ++i) {
        ASSIGN_OR_RETURN(std::string expected, tree.CompleteSubtreeHash(height, first + i));
        if (hashes.compare(i * kMerkleHashBytes, kMerkleHashBytes, expected) == 0) continue;
        if (named.size() < kMaxNamedMismatches) {
          const uint64_t leaves_per_hash = uint64_t{1} << height;
          named.push_back(absl::StrCat(
              "tile ", TilePath(at), " hash ", i, " (entries ", (first + i) * leaves_per_hash, "..",
              (first + i + 1) * leaves_per_hash - 1, ") is not the hash of those entries"));
        }
        ++total;
      }
    }
  }
  AddNamed(named, total, report, "upper tile hashes that are wrong");
  return absl::OkStatus();
}

// Step 3: the saved checkpoint is a prefix of `tree`, the tree of the verified checkpoint.
bool CheckExtendsSaved(const PublicLogState& saved, const PublicLogState& served,
                       const MerkleTree& tree, std::ostream& out, PublicLogAuditReport* report) {
  const std::string heads = absl::StrCat("\n  saved:  ", DescribeHead(saved.checkpoint),
                                         "\n  served: ", DescribeHead(served.checkpoint));
  if (saved.checkpoint.tree_size > served.checkpoint.tree_size) {
    report->problems.push_back(absl::StrCat(
        "the log shrank: the checkpoint saved by the last audit covers more entries than the one "
        "served now",
        heads));
    return false;
  }
  absl::StatusOr<std::string> prefix_root = tree.RootHash(saved.checkpoint.tree_size);
  if (!prefix_root.ok() || *prefix_root != saved.checkpoint.root_hash) {
    report->problems.push_back(absl::StrCat(
        "fork: the log served is not an extension of the one the last audit saw (its first ",
        saved.checkpoint.tree_size, " entries make the root ",
        Base64Encode(prefix_root.value_or("")), ")", heads));
    return false;
  }
  out << "consistent with the checkpoint of " << saved.checkpoint.tree_size
      << " entries saved by the last audit\n";
  return true;
}

// Step 5: the proof of entry `index`.
absl::Status WriteProof(const PublicLogAuditOptions& options, const MerkleTree& tree,
                        const PublicLogState& served, const std::string& entry, std::ostream& out) {
  TlogProof proof;
  proof.index = *options.prove_index;
  ASSIGN_OR_RETURN(proof.inclusion_proof,
                   tree.InclusionProof(proof.index, served.checkpoint.tree_size));
  proof.checkpoint_note = served.note;
  ASSIGN_OR_RETURN(std::string text, FormatTlogProof(proof));
  RETURN_IF_ERROR(WriteFileAtomically(options.proof_out, text));
  if (!options.entry_out.empty()) RETURN_IF_ERROR(WriteFileAtomically(options.entry_out, entry));
  out << "proof of entry " << proof.index << " (c2sp.org/tlog-proof@v1) written to "
      << options.proof_out << "\n";
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PublicLogAuditReport> RunPublicLogAudit(const PublicLogClient& log,
                                                       const NoteVerifierKey& vkey,
                                                       const PublicLogAuditOptions& options,
                                                       std::ostream& out) {
  std::optional<PublicLogState> saved;
  if (!options.state_file.empty()) {
    ASSIGN_OR_RETURN(saved, ReadPublicLogState(options.state_file, vkey));
  }
  PublicLogAuditReport report;
  ASSIGN_OR_RETURN(std::optional<PublicLogState> served,
                   FetchVerifiedCheckpoint(log, vkey, options, out, &report));
  if (!served) return report;
  const uint64_t size = served->checkpoint.tree_size;
  if (options.prove_index && *options.prove_index >= size) {
    report.problems.push_back(absl::StrCat("entry ", *options.prove_index,
                                           " is not in the log: the checkpoint covers ", size,
                                           " entries"));
  }

  // Records for the hostname, and the entry to prove, as the bundles go by.
  const std::string hostname = absl::AsciiStrToLower(options.hostname);
  const EvidenceFetch evidence = [&log](const std::string& sha256) { return log.Evidence(sha256); };
  absl::flat_hash_set<std::string> evidence_checked;
  std::string proved_entry;
  const EntryVisitor visit = [&](uint64_t index, absl::string_view entry) {
    if (options.prove_index && *options.prove_index == index) proved_entry = std::string(entry);
    if (hostname.empty()) return;
    absl::StatusOr<v1::QuorumRecord> record = RecordOfEntry(entry, index, evidence);
    if (!record.ok()) {
      report.problems.push_back(std::string(record.status().message()));
      return;
    }
    if (absl::AsciiStrToLower(record->hostname()) != hostname) return;
    ++report.host_records;
    out << DescribeRecord(*record) << "\n";
    CheckNamedEvidence(*record, evidence, &evidence_checked, &report.problems);
    if (options.agents != nullptr) {
      report.observations_verified +=
          CheckRecordObservations(*record, *options.agents, &report.problems);
    }
  };
  Leaves leaves;
  RETURN_IF_ERROR(ReadLeaves(log, size, visit, &leaves, &report));
  if (!leaves.complete) return report;
  const MerkleTree* tree = CompareRoots(leaves, served->checkpoint, &report);
  out << "recomputed " << size << " leaf hashes from " << report.bundles_checked
      << " entry bundles and the tree from them: "
      << (tree == &leaves.from_entries ? "its root is the checkpoint's" : "ROOT MISMATCH") << "\n";
  if (tree == &leaves.from_entries) {
    RETURN_IF_ERROR(CheckUpperTiles(log, leaves.from_entries, size, &report));
  }
  out << report.tiles_checked << " tiles checked against the entries\n";
  if (!hostname.empty()) {
    out << report.host_records << " records for " << hostname << ", their evidence checked\n";
    if (options.agents != nullptr) {
      out << report.observations_verified
          << " Observations verified with the enrolled agents' keys\n";
    }
  }
  if (saved && tree != nullptr) {
    CheckExtendsSaved(*saved, *served, *tree, out, &report);
  }
  if (!report.problems.empty()) return report;
  if (!options.state_file.empty()) {
    RETURN_IF_ERROR(WritePublicLogState(options.state_file, *served));
    if (!saved)
      out << "first audit of this log: its checkpoint is saved in " << options.state_file << "\n";
  }
  if (options.prove_index) {
    RETURN_IF_ERROR(WriteProof(options, *tree, *served, proved_entry, out));
  }
  return report;
}

}  // namespace mecai
