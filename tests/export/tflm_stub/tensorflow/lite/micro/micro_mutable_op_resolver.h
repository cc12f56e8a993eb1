// Test stub of TensorFlow Lite Micro's resolver API -- NOT the real TFLM header.
// TFLM's C++ sources do not ship in the tflite-micro pip wheel, so edgeml's tests
// compile the generated op_resolver.h against this stand-in: it declares
// tflite::MicroMutableOpResolver<N> with the Add* registration methods of TFLM's
// micro_mutable_op_resolver.h (same names, no-argument calls returning
// TfLiteStatus) and, like the real class, refuses a duplicate registration or more
// than N of them. That checks syntax, method names and arity; it does not link
// TFLM kernels. Set EDGEML_TFLM_INCLUDE (include folders of a TFLM source tree,
// separated by ':') to also compile op_resolver.h against the real header.
#ifndef EDGEML_TEST_STUB_MICRO_MUTABLE_OP_RESOLVER_H_
#define EDGEML_TEST_STUB_MICRO_MUTABLE_OP_RESOLVER_H_

#include <cstring>

#include "tensorflow/lite/c/common.h"  // TfLiteStatus, as upstream
#include "tensorflow/lite/micro/micro_op_resolver.h"

namespace tflite {

template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  TfLiteStatus AddAbs() { return Register("AddAbs"); }
  TfLiteStatus AddAdd() { return Register("AddAdd"); }
  TfLiteStatus AddAddN() { return Register("AddAddN"); }
  TfLiteStatus AddArgMax() { return Register("AddArgMax"); }
  TfLiteStatus AddArgMin() { return Register("AddArgMin"); }
  TfLiteStatus AddAssignVariable() { return Register("AddAssignVariable"); }
  TfLiteStatus AddAveragePool2D() { return Register("AddAveragePool2D"); }
  TfLiteStatus AddBatchMatMul() { return Register("AddBatchMatMul"); }
  TfLiteStatus AddBatchToSpaceNd() { return Register("AddBatchToSpaceNd"); }
  TfLiteStatus AddBroadcastArgs() { return Register("AddBroadcastArgs"); }
  TfLiteStatus AddBroadcastTo() { return Register("AddBroadcastTo"); }
  TfLiteStatus AddCallOnce() { return Register("AddCallOnce"); }
  TfLiteStatus AddCast() { return Register("AddCast"); }
  TfLiteStatus AddCeil() { return Register("AddCeil"); }
  TfLiteStatus AddCircularBuffer() { return Register("AddCircularBuffer"); }
  TfLiteStatus AddConcatenation() { return Register("AddConcatenation"); }
  TfLiteStatus AddConv2D() { return Register("AddConv2D"); }
  TfLiteStatus AddCos() { return Register("AddCos"); }
  TfLiteStatus AddCumSum() { return Register("AddCumSum"); }
  TfLiteStatus AddDelay() { return Register("AddDelay"); }
  TfLiteStatus AddDepthToSpace() { return Register("AddDepthToSpace"); }
  TfLiteStatus AddDepthwiseConv2D() { return Register("AddDepthwiseConv2D"); }
  TfLiteStatus AddDequantize() { return Register("AddDequantize"); }
  TfLiteStatus AddDetectionPostprocess() { return Register("AddDetectionPostprocess"); }
  TfLiteStatus AddDiv() { return Register("AddDiv"); }
  TfLiteStatus AddEmbeddingLookup() { return Register("AddEmbeddingLookup"); }
  TfLiteStatus AddEnergy() { return Register("AddEnergy"); }
  TfLiteStatus AddElu() { return Register("AddElu"); }
  TfLiteStatus AddEqual() { return Register("AddEqual"); }
  TfLiteStatus AddEthosU() { return Register("AddEthosU"); }
  TfLiteStatus AddExp() { return Register("AddExp"); }
  TfLiteStatus AddExpandDims() { return Register("AddExpandDims"); }
  TfLiteStatus AddFftAutoScale() { return Register("AddFftAutoScale"); }
  TfLiteStatus AddFill() { return Register("AddFill"); }
  TfLiteStatus AddFilterBank() { return Register("AddFilterBank"); }
  TfLiteStatus AddFilterBankLog() { return Register("AddFilterBankLog"); }
  TfLiteStatus AddFilterBankSquareRoot() { return Register("AddFilterBankSquareRoot"); }
  TfLiteStatus AddFilterBankSpectralSubtraction() { return Register("AddFilterBankSpectralSubtraction"); }
  TfLiteStatus AddFloor() { return Register("AddFloor"); }
  TfLiteStatus AddFloorDiv() { return Register("AddFloorDiv"); }
  TfLiteStatus AddFloorMod() { return Register("AddFloorMod"); }
  TfLiteStatus AddFramer() { return Register("AddFramer"); }
  TfLiteStatus AddFullyConnected() { return Register("AddFullyConnected"); }
  TfLiteStatus AddGather() { return Register("AddGather"); }
  TfLiteStatus AddGatherNd() { return Register("AddGatherNd"); }
  TfLiteStatus AddGreater() { return Register("AddGreater"); }
  TfLiteStatus AddGreaterEqual() { return Register("AddGreaterEqual"); }
  TfLiteStatus AddHardSwish() { return Register("AddHardSwish"); }
  TfLiteStatus AddIf() { return Register("AddIf"); }
  TfLiteStatus AddIrfft() { return Register("AddIrfft"); }
  TfLiteStatus AddL2Normalization() { return Register("AddL2Normalization"); }
  TfLiteStatus AddL2Pool2D() { return Register("AddL2Pool2D"); }
  TfLiteStatus AddLeakyRelu() { return Register("AddLeakyRelu"); }
  TfLiteStatus AddLess() { return Register("AddLess"); }
  TfLiteStatus AddLessEqual() { return Register("AddLessEqual"); }
  TfLiteStatus AddLog() { return Register("AddLog"); }
  TfLiteStatus AddLogicalAnd() { return Register("AddLogicalAnd"); }
  TfLiteStatus AddLogicalNot() { return Register("AddLogicalNot"); }
  TfLiteStatus AddLogicalOr() { return Register("AddLogicalOr"); }
  TfLiteStatus AddLogistic() { return Register("AddLogistic"); }
  TfLiteStatus AddLogSoftmax() { return Register("AddLogSoftmax"); }
  TfLiteStatus AddMaximum() { return Register("AddMaximum"); }
  TfLiteStatus AddMaxPool2D() { return Register("AddMaxPool2D"); }
  TfLiteStatus AddMirrorPad() { return Register("AddMirrorPad"); }
  TfLiteStatus AddMean() { return Register("AddMean"); }
  TfLiteStatus AddMinimum() { return Register("AddMinimum"); }
  TfLiteStatus AddMul() { return Register("AddMul"); }
  TfLiteStatus AddNeg() { return Register("AddNeg"); }
  TfLiteStatus AddNotEqual() { return Register("AddNotEqual"); }
  TfLiteStatus AddOverlapAdd() { return Register("AddOverlapAdd"); }
  TfLiteStatus AddPack() { return Register("AddPack"); }
  TfLiteStatus AddPad() { return Register("AddPad"); }
  TfLiteStatus AddPadV2() { return Register("AddPadV2"); }
  TfLiteStatus AddPCAN() { return Register("AddPCAN"); }
  TfLiteStatus AddPrelu() { return Register("AddPrelu"); }
  TfLiteStatus AddQuantize() { return Register("AddQuantize"); }
  TfLiteStatus AddReadVariable() { return Register("AddReadVariable"); }
  TfLiteStatus AddReduceMax() { return Register("AddReduceMax"); }
  TfLiteStatus AddReduceMin() { return Register("AddReduceMin"); }
  TfLiteStatus AddRelu() { return Register("AddRelu"); }
  TfLiteStatus AddRelu6() { return Register("AddRelu6"); }
  TfLiteStatus AddReshape() { return Register("AddReshape"); }
  TfLiteStatus AddResizeBilinear() { return Register("AddResizeBilinear"); }
  TfLiteStatus AddResizeNearestNeighbor() { return Register("AddResizeNearestNeighbor"); }
  TfLiteStatus AddReverseV2() { return Register("AddReverseV2"); }
  TfLiteStatus AddRfft() { return Register("AddRfft"); }
  TfLiteStatus AddRound() { return Register("AddRound"); }
  TfLiteStatus AddRsqrt() { return Register("AddRsqrt"); }
  TfLiteStatus AddSelectV2() { return Register("AddSelectV2"); }
  TfLiteStatus AddShape() { return Register("AddShape"); }
  TfLiteStatus AddSin() { return Register("AddSin"); }
  TfLiteStatus AddSlice() { return Register("AddSlice"); }
  TfLiteStatus AddSoftmax() { return Register("AddSoftmax"); }
  TfLiteStatus AddSpaceToBatchNd() { return Register("AddSpaceToBatchNd"); }
  TfLiteStatus AddSpaceToDepth() { return Register("AddSpaceToDepth"); }
  TfLiteStatus AddSplit() { return Register("AddSplit"); }
  TfLiteStatus AddSplitV() { return Register("AddSplitV"); }
  TfLiteStatus AddSqueeze() { return Register("AddSqueeze"); }
  TfLiteStatus AddSqrt() { return Register("AddSqrt"); }
  TfLiteStatus AddSquare() { return Register("AddSquare"); }
  TfLiteStatus AddSquaredDifference() { return Register("AddSquaredDifference"); }
  TfLiteStatus AddStridedSlice() { return Register("AddStridedSlice"); }
  TfLiteStatus AddStacker() { return Register("AddStacker"); }
  TfLiteStatus AddSub() { return Register("AddSub"); }
  TfLiteStatus AddSum() { return Register("AddSum"); }
  TfLiteStatus AddSvdf() { return Register("AddSvdf"); }
  TfLiteStatus AddTanh() { return Register("AddTanh"); }
  TfLiteStatus AddTransposeConv() { return Register("AddTransposeConv"); }
  TfLiteStatus AddTranspose() { return Register("AddTranspose"); }
  TfLiteStatus AddUnpack() { return Register("AddUnpack"); }
  TfLiteStatus AddUnidirectionalSequenceLSTM() { return Register("AddUnidirectionalSequenceLSTM"); }
  TfLiteStatus AddVarHandle() { return Register("AddVarHandle"); }
  TfLiteStatus AddWhile() { return Register("AddWhile"); }
  TfLiteStatus AddWindow() { return Register("AddWindow"); }
  TfLiteStatus AddZerosLike() { return Register("AddZerosLike"); }

  unsigned int GetRegistrationLength() const { return count_; }
  const char* GetRegistered(unsigned int i) const { return i < count_ ? names_[i] : nullptr; }

 private:
  TfLiteStatus Register(const char* name) {
    for (unsigned int i = 0; i < count_; ++i) {
      if (std::strcmp(names_[i], name) == 0) return kTfLiteError;  // added twice
    }
    if (count_ >= tOpCount) return kTfLiteError;  // resolver too small
    names_[count_++] = name;
    return kTfLiteOk;
  }

  const char* names_[tOpCount > 0 ? tOpCount : 1] = {};
  unsigned int count_ = 0;
};

}  // namespace tflite

#endif  // EDGEML_TEST_STUB_MICRO_MUTABLE_OP_RESOLVER_H_
