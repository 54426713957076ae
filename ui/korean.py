"""The Korean of the page (ui.i18n): KO for its static texts, SAID for the texts the server
computes (status lines, Stop's answers, a form's messages), ERRORS for the core's messages.
Data only; ui.i18n says how each is used.
"""
from __future__ import annotations

import re

KO: dict[str, str] = {
    # --- the page and its tabs ---
    "# cnnzoo: the classic CNNs, taken apart ResNet, Wide ResNet, DenseNet, Inception, CAM, DCGAN and WGAN in plain "
    "PyTorch, small enough to read and to run on a laptop CPU. Look inside a network, train one, see where it looks.":
        "# cnnzoo: 고전 CNN을 뜯어보기\nResNet, Wide ResNet, DenseNet, Inception, CAM, DCGAN, WGAN을 순수 PyTorch로: "
        "읽을 수 있을 만큼 작고 노트북 CPU에서 돌아갑니다. 네트워크의 속을 들여다보고, 직접 학습시키고, 어디를 보는지 확인하세요.",
    "Shapes": "구조",
    "Train": "학습",
    "Inside": "속 보기",
    "CAM": "CAM",
    "GAN": "GAN",
    "Experiments": "실험",
    "Report": "보고서",
    "Stop": "정지",
    "seed": "시드",
    "dataset": "데이터셋",
    "epochs": "에폭",
    "batch size": "배치 크기",
    "learning rate": "학습률",
    "model": "모델",
    "image size": "이미지 크기",
    "width": "너비",
    "height": "높이",
    "▶ Replay": "▶ 재생",
    "recorded run": "기록된 학습",
    "shipped with cnnzoo: what these runs did, replayed as if live": "cnnzoo에 포함된 기록: 실제 학습처럼 다시 재생합니다",
    "Replay a recorded run (no waiting: a teacher's demo)": "기록된 학습 재생 (기다림 없이: 수업 시연용)",
    "speed (× the recorded pace)": "속도 (기록된 속도의 배수)",
    "position (% of the run): drag to look, ▶ plays from here": "위치 (학습의 %): 끌어서 보기, ▶는 여기서부터 재생",
    "upload a classifier (.safetensors)": "분류기 올리기 (.safetensors)",
    "your own checkpoint": "내 체크포인트",
    "↻ list": "↻ 목록",
    "digits and shapes are built in; MNIST, Fashion-MNIST and CIFAR are read from ./data":
        "digits와 shapes는 내장되어 있고, MNIST·Fashion-MNIST·CIFAR는 ./data에서 읽습니다",
    "digits and shapes are built in; MNIST and Fashion-MNIST are read from ./data":
        "digits와 shapes는 내장되어 있고, MNIST·Fashion-MNIST는 ./data에서 읽습니다",

    # --- Shapes ---
    "Pick a network and an input size: every layer's **output shape**, **parameters** and **multiply-accumulates** "
    "(MACs), in the order the layers run. Change a knob and press Enter (or click elsewhere) to see what it does to "
    "the network.":
        "네트워크와 입력 크기를 고르면 각 층의 **출력 모양**, **파라미터 수**, **곱셈-누산 횟수**(MACs)를 층이 실행되는 "
        "순서대로 보여 줍니다. 설정을 바꾸고 Enter를 누르면(또는 다른 곳을 클릭하면) 네트워크가 어떻게 달라지는지 볼 수 있습니다.",
    "network": "네트워크",
    "depth": "깊이",
    "weighted layers; each family allows only some depths": "가중치가 있는 층의 수; 계열마다 가능한 깊이가 정해져 있습니다",
    "widen factor k": "너비 배수 k",
    "growth rate k": "성장률 k",
    "compression θ (transition layers)": "압축률 θ (전이 층)",
    "bottleneck (1×1 conv to 4k channels first)": "병목 (먼저 1×1 합성곱으로 4k 채널)",
    "dropout (training only: shapes stay)": "드롭아웃 (학습 때만: 모양은 그대로)",
    "shortcut": "지름길 연결",
    "A: identity, zero-padded channels · B: 1×1 projection where the shape changes · C: projection on every shortcut":
        "A: 항등 연결, 늘어난 채널은 0으로 채움 · B: 모양이 바뀌는 곳만 1×1 사영 · C: 모든 지름길에 사영",
    "global pooling (GAP / GMP)": "전역 풀링 (GAP / GMP)",
    "base width": "기본 너비",
    "2×2 max-pools": "2×2 최대 풀링 수",
    "classes": "클래스 수",
    "input channels": "입력 채널",
    "totals": "합계",
    "feature map size through the network": "네트워크를 지나며 바뀌는 특징 맵 크기",
    "layers": "층",
    "The trace as a calculator: windows, receptive fields, memory and time": "계산기로 보는 추적: 창, 수용 영역, 메모리와 시간",
    "Each convolution and pooling slides a window (kernel **k**, stride **s**, padding **p**) and outputs "
    "⌊(H + 2p − k)/s⌋ + 1 positions. The **receptive field** (RF) is how many input pixels one output position sees "
    "(unclipped, as papers quote it), the **jump** how far apart neighbouring positions are, in input pixels. In "
    "training, autograd **keeps** some activations for the backward pass (a convolution its input, batch norm its "
    "input, ReLU its output): each tensor is counted once, at the layer that keeps it first.":
        "합성곱과 풀링은 창(커널 **k**, 보폭 **s**, 패딩 **p**)을 밀며 ⌊(H + 2p − k)/s⌋ + 1개의 위치를 출력합니다. "
        "**수용 영역**(RF)은 출력 한 위치가 보는 입력 픽셀 수(논문처럼 자르지 않은 값), **점프**는 이웃한 출력 위치가 입력 "
        "픽셀로 얼마나 떨어져 있는지입니다. 학습할 때 autograd는 역전파를 위해 일부 활성값을 **보관**합니다(합성곱은 입력, "
        "배치 정규화는 입력, ReLU는 출력). 각 텐서는 처음 보관하는 층에서 한 번만 셉니다.",
    "optimizer": "최적화기",
    "SGD with momentum": "모멘텀 SGD",
    "RMSprop with momentum": "모멘텀 RMSprop",
    "dataset (for the time per epoch)": "데이터셋 (에폭당 시간 계산용)",
    "per layer": "층별",
    "Export both tables (Markdown, LaTeX, CSV)": "두 표 내보내기 (Markdown, LaTeX, CSV)",
    "the tables": "표 파일",
    "Why 1×1 convolutions? The Inception module's reduction arithmetic": "왜 1×1 합성곱인가? Inception 모듈의 축소 계산",
    "GoogLeNet (Szegedy et al. 2014) puts a 1×1 convolution before its 3×3 and 5×5 convolutions to cut the channels "
    "they read. The numbers open on the Inception post's own example (192 → 32 before a 5×5 to 32: 31,744 weights, "
    "≈4.8× fewer); the often-quoted GoogLeNet-lecture version reduces to 16 (15,872, ≈9.7×). Choose `googlenet_small` "
    "above to see such modules in the table:":
        "GoogLeNet(Szegedy 외, 2014)은 3×3과 5×5 합성곱 앞에 1×1 합성곱을 두어 그들이 읽는 채널 수를 줄입니다. 처음 값은 "
        "Inception 글의 예시입니다(5×5로 32채널을 만들기 전에 192 → 32: 가중치 31,744개, 약 4.8배 적음). 자주 인용되는 "
        "GoogLeNet 강의 버전은 16으로 줄입니다(15,872개, 약 9.7배). 위에서 `googlenet_small`을 고르면 표에서 이런 모듈을 볼 수 "
        "있습니다:",
    "output channels": "출력 채널",
    "kernel k": "커널 k",
    "1×1 reduces to": "1×1 축소 채널",
    "reduction arithmetic": "축소 계산",

    # --- Train ---
    "Train a classifier and watch it learn. The defaults train a small CNN on handwritten digits (built in, no "
    "download) to about **98% test accuracy in seconds** on a laptop CPU. **Stop** keeps a checkpoint you can "
    "**Resume**; every run of this page can be overlaid.":
        "분류기를 학습시키며 배우는 과정을 지켜보세요. 기본 설정은 작은 CNN을 손글씨 숫자(내장, 다운로드 없음)로 학습시켜 "
        "노트북 CPU에서 **몇 초 만에 테스트 정확도 약 98%**에 이릅니다. **정지**하면 **이어서 학습**할 수 있는 체크포인트가 "
        "남고, 이 페이지의 모든 학습을 겹쳐 볼 수 있습니다.",
    "recipe": "레시피",
    "the papers' and the seeds' settings, and this project's fast ones": "논문과 원본 글의 설정, 그리고 이 프로젝트의 빠른 설정",
    "(your own settings)": "(직접 설정)",
    "image folder as .zip (one sub-folder per class)": "이미지 폴더 .zip (클래스마다 하위 폴더 하나)",
    "native": "원래 크기",
    "optimizer and schedule": "최적화기와 학습률 일정",
    "sgd: plain momentum, the seeds' code · sgd + Nesterov: the WRN paper's":
        "sgd: 일반 모멘텀, 원본 글의 코드 · sgd + Nesterov: WRN 논문의 설정",
    "momentum": "모멘텀",
    "weight decay": "가중치 감쇠",
    "learning-rate schedule": "학습률 일정",
    "×0.2 at 30/60/80%: WRN's epochs 60/120/160 of 200 · ×0.1 at 50/75%: He et al.'s 32k/48k of 64k steps":
        "30/60/80%에서 ×0.2: WRN의 200 에폭 중 60/120/160 · 50/75%에서 ×0.1: He 외의 64k 스텝 중 32k/48k",
    "constant": "고정",
    "cosine": "코사인",
    "augmentation (random crop, and flip where it keeps the label)": "데이터 증강 (무작위 자르기, 레이블이 유지되는 경우 뒤집기)",
    "label smoothing": "레이블 스무딩",
    "record the CAM timeline of one test image": "테스트 이미지 하나의 CAM 타임라인 기록",
    "probe: test image #": "관찰할 테스트 이미지 번호",
    "training images (0 = all)": "학습 이미지 수 (0 = 전부)",
    "validation split (picks 'best')": "검증 비율 ('best' 선택용)",
    "Press **Train** to start.": "**학습**을 누르면 시작합니다.",
    "loss": "손실",
    "accuracy (%)": "정확도 (%)",
    "smoothing of the train curves": "학습 곡선 평활화",
    "runs to show (this page's runs)": "표시할 학습 (이 페이지의 학습)",
    "resume": "이어서 학습할 체크포인트",
    "stopped runs of this page": "이 페이지에서 정지한 학습",
    "Resume": "이어서 학습",
    "Degradation experiment: plain vs residual, 20 vs 56 layers": "성능 저하 실험: 일반 대 잔차, 20층 대 56층",
    "confusion matrix (test set)": "혼동 행렬 (테스트 세트)",
    "misclassified test images": "잘못 분류된 테스트 이미지",
    "CAM timeline: where the network looks on the probe image, epoch by epoch":
        "CAM 타임라인: 네트워크가 관찰 이미지의 어디를 보는지, 에폭마다",
    "downloads: checkpoint (.safetensors), metrics (.csv), CAM timeline (.gif)":
        "다운로드: 체크포인트 (.safetensors), 지표 (.csv), CAM 타임라인 (.gif)",
    "the Train tab's default run: simple_cnn on digits, recipe digits-fast":
        "학습 탭의 기본 학습: digits의 simple_cnn, 레시피 digits-fast",
    "degradation: plain-20/56 and ResNet-20/56 on digits (seed 0)": "성능 저하: digits의 plain-20/56과 ResNet-20/56 (시드 0)",
    "plain20 on digits (a re-run of the shipped checkpoint's recipe)": "digits의 plain20 (포함된 체크포인트 레시피로 다시 학습)",
    "resnet20 on digits (the shipped checkpoint's run)": "digits의 resnet20 (포함된 체크포인트의 학습)",
    "simple_cnn on shapes: the CAM tab's shipped model (its own run)": "shapes의 simple_cnn: CAM 탭에 포함된 모델 (그 학습)",

    # --- Inside ---
    "**Look inside a network.** Each row of the table is a layer, in the order the picture meets them: click one to "
    "see what it makes of the picture, one small map per channel (the most active first), and for a convolution the "
    "filters it slides over its input. Click a map to find the test images that channel likes best.":
        "**네트워크 속 들여다보기.** 표의 각 행은 그림이 지나가는 순서대로 놓인 층입니다. 하나를 클릭하면 그 층이 그림을 "
        "어떻게 바꾸는지 채널마다 작은 맵 하나로(가장 활발한 채널부터) 보여 주고, 합성곱이면 입력 위를 미끄러지는 필터도 "
        "보여 줍니다. 맵을 클릭하면 그 채널이 가장 좋아하는 테스트 이미지를 찾습니다.",
    "checkpoint (.safetensors, from the Train tab)": "체크포인트 (.safetensors, 학습 탭에서 받은 것)",
    "picture": "그림",
    "test image": "테스트 이미지",
    "layer": "층",
    "colours": "색",
    "one scale for the layer": "층 전체에 한 척도",
    "each channel its own": "채널마다 따로",
    "layers (click a row)": "층 (행을 클릭)",
    "Choose a model and a picture.": "모델과 그림을 고르세요.",
    "feature maps (click one for its top test images)": "특징 맵 (클릭하면 가장 강하게 반응한 테스트 이미지)",
    "filters": "필터",
    "the picture's path": "그림이 지나가는 길",
    "channel": "채널",
    "top test images of this channel": "이 채널의 상위 테스트 이미지",
    "where the channel fires most": "채널이 가장 강하게 반응하는 곳",

    # --- CAM ---
    "**Class activation maps** (Zhou et al. 2016): a network that ends in global average pooling and one linear layer "
    "scores class c as the *average* of the map M<sub>c</sub>(x, y) = Σ<sub>k</sub> w<sub>k</sub><sup>c</sup> "
    "f<sub>k</sub>(x, y), so the map shows **where** the evidence for c lies. Keep the region above a threshold and "
    "its box localises the object, although the network only ever saw class labels.":
        "**클래스 활성화 맵**(Zhou 외, 2016): 전역 평균 풀링과 선형 층 하나로 끝나는 네트워크는 클래스 c의 점수를 맵 "
        "M<sub>c</sub>(x, y) = Σ<sub>k</sub> w<sub>k</sub><sup>c</sup> f<sub>k</sub>(x, y)의 *평균*으로 매기므로, 이 맵은 "
        "c의 근거가 **어디에** 있는지 보여 줍니다. 임계값 위의 영역을 남기면 그 상자가 물체의 위치를 찾아냅니다. 네트워크는 "
        "클래스 레이블만 보고 배웠는데도요.",
    "your own checkpoint, ImageNet models": "내 체크포인트, ImageNet 모델",
    "picture (upload, webcam or paste)": "그림 (올리기, 웹캠, 붙여넣기)",
    "random test image": "무작위 테스트 이미지",
    "compute CAM": "CAM 계산",
    "summary": "요약",
    "class activation maps": "클래스 활성화 맵",
    "box threshold (fraction of the map's range)": "상자 임계값 (맵 범위의 비율)",
    "the paper uses 0.2; small maps like a higher one": "논문은 0.2; 작은 맵은 더 높은 값이 낫습니다",
    "heatmap opacity": "히트맵 불투명도",
    "colour map": "색상표",
    "top-k classes": "상위 k개 클래스",
    "box around": "상자를 두를 곳",
    "largest region (paper)": "가장 큰 영역 (논문)",
    "everything above": "임계값 위 전부",
    "probabilities": "확률",
    "download the overlays (PNG)": "겹친 그림 다운로드 (PNG)",
    "test images": "테스트 이미지",
    "Localisation accuracy: how often is the box right?": "위치 찾기 정확도: 상자가 얼마나 자주 맞는가?",
    "measure on the shapes test set": "shapes 테스트 세트로 측정",
    "use the best threshold": "가장 좋은 임계값 쓰기",
    "localisation summary": "위치 찾기 요약",
    "localisation accuracy over thresholds": "임계값에 따른 위치 찾기 정확도",
    "over thresholds": "임계값별",

    # --- GAN ---
    "## GANs: a generator learns to draw A generator learns to draw digits from noise while a discriminator (DCGAN) "
    "or critic (WGAN) learns to tell them from real ones. **Generate and walk** samples a trained generator (the "
    "shipped DCGAN, one trained on this page, or an upload) and walks between two of its samples; **Train a GAN** "
    "trains one: the defaults (width 20, 32×32 digits) show all ten digits within about a minute on a laptop CPU, and "
    "**Stop** keeps a checkpoint.":
        "## GAN: 그리는 법을 배우는 생성자\n생성자는 잡음에서 숫자를 그리는 법을 배우고, 판별자(DCGAN) 또는 비평자(WGAN)는 "
        "그것을 진짜와 구별하는 법을 배웁니다. **생성과 걷기**는 학습된 생성자(포함된 DCGAN, 이 페이지에서 학습한 것, 또는 "
        "올린 것)로 샘플을 뽑고 두 샘플 사이를 걷습니다. **GAN 학습**은 직접 학습시킵니다: 기본 설정(너비 20, 32×32 숫자)은 "
        "노트북 CPU에서 1분 안팎에 열 숫자를 모두 보여 주고, **정지**하면 체크포인트가 남습니다.",
    "Generate and walk": "생성과 걷기",
    "Train a GAN": "GAN 학습",
    "Sample a grid from a seed, then walk between two samples: type two seeds and sample numbers, or **click two "
    "samples** of the grid.":
        "시드로 샘플 격자를 뽑은 다음 두 샘플 사이를 걸어 보세요: 시드 두 개와 샘플 번호를 입력하거나, 격자에서 **샘플 두 "
        "개를 클릭**하세요.",
    "generator": "생성자",
    "shipped, trained on this page, or uploaded": "포함된 것, 이 페이지에서 학습한 것, 또는 올린 것",
    "upload a generator (.safetensors)": "생성자 올리기 (.safetensors)",
    "samples a side": "한 변의 샘플 수",
    "Sample": "샘플 뽑기",
    "samples: click one for the start of a walk, another for its end": "샘플: 하나를 클릭하면 걷기의 시작, 또 하나는 끝",
    "start seed": "시작 시드",
    "start sample #": "시작 샘플 번호",
    "end seed": "끝 시드",
    "end sample #": "끝 샘플 번호",
    "interpolation": "보간",
    "slerp stays on the shell |z| ≈ √d where the samples live": "slerp는 샘플이 사는 껍질 |z| ≈ √d 위에 머뭅니다",
    "linear": "선형",
    "spherical (slerp)": "구면 (slerp)",
    "frames": "프레임 수",
    "Interpolate": "보간하기",
    "the walk (GIF)": "걷기 (GIF)",
    "the walk, frame by frame": "걷기, 프레임별",
    "downloads: strip (.png) and GIF": "다운로드: 띠 그림 (.png)과 GIF",
    "preset": "사전 설정",
    "the seeds' DCGAN and WGAN, the WGAN paper's clip, the CPU defaults": "원본 글의 DCGAN과 WGAN, WGAN 논문의 클립 값, CPU 기본값",
    "DCGAN: BCE, Adam 2e-4, β1 0.5 · WGAN: critic, RMSprop 5e-5, clipping":
        "DCGAN: BCE, Adam 2e-4, β1 0.5 · WGAN: 비평자, RMSprop 5e-5, 가중치 자르기",
    "20: CPU · 128: the paper (GPU)": "20: CPU · 128: 논문 (GPU)",
    "steps": "스텝",
    "generator updates": "생성자 갱신 횟수",
    "blank or 0: the paper's (0.0002)": "비우거나 0: 논문 값 (0.0002)",
    "clip c": "클립 c",
    "0.01 the paper · 0.005 the WGAN tutorial": "0.01 논문 · 0.005 WGAN 튜토리얼",
    "critic steps per G step": "생성자 한 스텝당 비평자 스텝",
    "samples every": "샘플 간격",
    "steps (a GIF frame)": "스텝 (GIF 한 프레임)",
    "DCGAN on digits (the shipped generator's run)": "digits의 DCGAN (포함된 생성자의 학습)",
    "WGAN on digits, the GAN tab's defaults (weights not shipped)": "digits의 WGAN, GAN 탭 기본값 (가중치는 포함 안 됨)",
    "losses": "손실",
    "D(x) and D(G(z)): the discriminator's outputs": "D(x)와 D(G(z)): 판별자의 출력",
    "fixed-noise samples (live)": "고정 잡음 샘플 (실시간)",
    "the fixed-noise samples over training (GIF)": "학습하는 동안의 고정 잡음 샘플 (GIF)",
    "downloads: generator, GIF, discriminator, metrics": "다운로드: 생성자, GIF, 판별자, 지표",

    # --- Experiments ---
    "## Experiments The ResNet paper's questions, measured on the networks of this page.":
        "## 실험\nResNet 논문의 질문들을 이 페이지의 네트워크로 측정합니다.",
    "Degradation: deeper plain nets train worse": "성능 저하: 더 깊은 일반 네트워크가 더 못 배운다",
    "train the four nets": "네 네트워크 학습",
    "replay speed": "재생 속도",
    "position (% of each run): drag to look, ▶ replays from here": "위치 (각 학습의 %): 끌어서 보기, ▶는 여기서부터 재생",
    "▶ replay the recorded run (seed 0): no waiting": "▶ 기록된 학습 재생 (시드 0): 기다림 없이",
    "degradation": "성능 저하",
    "final numbers": "최종 수치",
    "Loss landscape": "손실 지형",
    "plain network": "일반 네트워크",
    "residual network": "잔차 네트워크",
    "grid steps per side": "한 변의 격자 점 수",
    "odd, so θ* is the centre point": "홀수: θ*가 가운데 점이 되도록",
    "span": "범위",
    "direction seed": "방향 시드",
    "batches of 64 test images that estimate L": "L을 추정할 64장짜리 테스트 배치 수",
    "BatchNorm and bias directions": "BatchNorm과 편향의 방향",
    "ignore: zero (the paper's default)": "무시: 0 (논문의 기본값)",
    "copy θ* (the paper's other option)": "θ* 복사 (논문의 다른 선택지)",
    "random, each vector normalised as one filter": "무작위, 벡터마다 필터 하나처럼 정규화",
    "Compute": "계산",
    "Press **Compute**.": "**계산**을 누르세요.",
    "contour plots, same levels (log scale)": "등고선 그림, 같은 높이 (로그 척도)",
    "3-D surfaces, same axes": "3차원 곡면, 같은 축",
    "from the initial to the trained weights": "초기 가중치에서 학습된 가중치까지",
    "downloads: grid values (.npz) and figures (.png)": "다운로드: 격자 값 (.npz)과 그림 (.png)",
    "Layer responses: why residual layers learn small corrections": "층 응답: 잔차 층이 작은 보정만 배우는 이유",
    "measure the layer responses": "층 응답 측정",
    "layer responses": "층 응답",
    "Architecture race: accuracy against cost": "구조 경주: 비용 대비 정확도",
    "models (2-6, in racing order)": "모델 (2-6개, 경주 순서대로)",
    "data": "데이터",
    "image size (px)": "이미지 크기 (px)",
    "budget": "예산",
    "same epochs": "같은 에폭",
    "same seconds": "같은 시간(초)",
    "epochs per model": "모델당 에폭",
    "Race": "경주",
    "Press **Race**.": "**경주**를 누르세요.",
    "test accuracy while training": "학습 중 테스트 정확도",
    "accuracy against MACs and seconds": "MACs와 시간 대비 정확도",
    "final numbers: MACs per image; images/s and seconds of training steps; test accuracy on the whole test set":
        "최종 수치: 이미지당 MACs, 학습 스텝의 초당 이미지 수와 시간, 전체 테스트 세트의 정확도",

    # --- Report ---
    "## Lab report One click puts your work on this page into **one HTML file** that opens offline, on a phone or on "
    "paper: for every run its curves, confusion matrix, CAM timeline or GAN progress, the model's shape table, the "
    "exact settings and the command line that trains it again. The **zip** holds each run's metrics (.csv), record "
    "(.json) and checkpoints (.safetensors), and the report itself.":
        "## 실험 보고서\n한 번의 클릭으로 이 페이지에서 한 작업을 오프라인에서도, 휴대폰이나 종이에서도 열리는 **HTML 파일 "
        "하나**로 만듭니다. 학습마다 곡선, 혼동 행렬, CAM 타임라인이나 GAN 진행, 모델의 구조 표, 정확한 설정과 같은 학습을 "
        "다시 하는 명령줄이 들어갑니다. **zip**에는 학습마다 지표(.csv), 기록(.json), 체크포인트(.safetensors)와 보고서 자체가 "
        "들어 있습니다.",
    "Make my lab report": "내 실험 보고서 만들기",
    "Press the button when you have trained something.": "무언가를 학습시킨 뒤 버튼을 누르세요.",
    "lab report (.html, opens offline)": "실험 보고서 (.html, 오프라인에서 열림)",
    "metrics, records and checkpoints (.zip)": "지표, 기록, 체크포인트 (.zip)",
}


# English template -> Korean; {names} are str.format's placeholders, the same in both.
SAID: dict[str, str] = {
    # the Train tab's status line (ui.train_view)
    "**{name}** · loading the data…": "**{name}** · 데이터를 불러오는 중…",
    "epoch {epoch} / {epochs}": "에폭 {epoch} / {epochs}",
    "step {step} / {total}": "스텝 {step} / {total}",
    "{rate} images/s": "초당 {rate}장",
    "ETA {eta}": "남은 시간 {eta}",
    "lr {lr}": "학습률 {lr}",
    "test acc {acc}": "테스트 정확도 {acc}",
    "**{name}** · {ended} · preparing the test report…": "**{name}** · {ended} · 테스트 보고서를 준비하는 중…",
    "training ended at step {step}": "스텝 {step}에서 학습 끝",
    "stopped at step {step}": "스텝 {step}에서 정지됨",
    " · test accuracy **{acc}**": " · 테스트 정확도 **{acc}**",
    "finished": "완료",
    "stopped": "정지됨",
    "stopped: press Resume to continue": "정지됨: 계속하려면 '이어서 학습'을 누르세요",
    "stopped: the loss diverged": "정지됨: 손실이 발산했습니다",
    "reached this server's {minutes}-minute limit: press Resume to continue":
        "이 서버의 {minutes}분 제한에 도달했습니다: 계속하려면 '이어서 학습'을 누르세요",
    "The last run ended with an error: {error}": "마지막 실행이 오류로 끝났습니다: {error}",
    # training slots, Stop, one job a page (ui.jobs, ui.sessions)
    "Waiting for a free training slot: {waiting} run(s) waiting; this server trains {limit} at once.":
        "빈 학습 자리를 기다리는 중: {waiting}개 실행이 대기 중이고, 이 서버는 한 번에 {limit}개를 학습합니다.",
    "Nothing is training in this session.": "이 세션에서 학습 중인 것이 없습니다.",
    "Stopping after the current step…": "현재 스텝을 마치고 정지합니다…",
    "This page is already training (here or in another tab): press Stop first, or wait.":
        "이 페이지는 이미 학습 중입니다(여기 또는 다른 탭에서): 먼저 정지를 누르거나 기다리세요.",
    "This experiment is already running on this page (here or in another tab): press its Stop first, or wait.":
        "이 실험은 이 페이지에서 이미 실행 중입니다(여기 또는 다른 탭에서): 먼저 그 정지를 누르거나 기다리세요.",
    "It ended with an error: {error}": "오류로 끝났습니다: {error}",
    # the Experiments tab's status lines and Stops (ui.experiments_tab, race_section, degradation_section)
    "**Computing {title}** (network {k} of 2) {bar} {done} / {points} points · {seconds} s · "
    "about {left} s left · on {images} test images":
        "**{title} 계산 중** (네트워크 {k} / 2) {bar} {done} / {points}개 점 · {seconds}초 · 약 {left}초 남음 · "
        "테스트 이미지 {images}장으로",
    "**{title}**: the line from its initial weights…": "**{title}**: 초기 가중치에서 이어지는 직선…",
    "Time limit (this server's {minutes}-minute limit)": "시간 제한 (이 서버의 {minutes}분 제한)",
    "Stopped": "정지됨",
    "**{why}** after {done} of {total} points: the grid shows what was computed (nearest the centre first).":
        "**{why}**: {total}개 점 중 {done}개 계산 후. 격자는 계산된 부분을 보여 줍니다 (중심에 가까운 점부터).",
    "**Done**: 2 × {steps}×{steps} points in {seconds} s of computing.":
        "**완료**: 2 × {steps}×{steps}개 점을 {seconds}초 동안 계산했습니다.",
    "Nothing is computing on this page.": "이 페이지에서 계산 중인 것이 없습니다.",
    "Stopping after the points in flight…": "계산 중인 점을 마치고 정지합니다…",
    "Nothing is racing on this page.": "이 페이지에서 경주 중인 것이 없습니다.",
    "Nothing is training on this page.": "이 페이지에서 학습 중인 것이 없습니다.",
    "Starting…": "시작하는 중…",
    "{bar} **{model}** (model {i} of {n}): timing a few steps to fit its epochs to the budget…":
        "{bar} **{model}** (모델 {i} / {n}): 예산에 맞게 에폭을 정하려고 몇 스텝의 시간을 재는 중…",
    " · test accuracy {acc}%": " · 테스트 정확도 {acc}%",
    "{bar} **{model}** (model {i} of {n}): epoch {epochs}{planned} · {seconds} s of training{speed}"
    "{accuracy} · {wall} s in all":
        "{bar} **{model}** (모델 {i} / {n}): 에폭 {epochs}{planned} · 학습 {seconds}초{speed}{accuracy} · 모두 {wall}초",
    "**Stopped** after {seconds} s{rest}. The plots and the table show what was trained.":
        "**정지됨**: {seconds}초 후{rest}. 그래프와 표는 학습된 것을 보여 줍니다.",
    "; {models} did not run": "; {models}은(는) 실행되지 않았습니다",
    "**{name}** ({k} of 4{speed}): epoch {epoch} of {epochs}": "**{name}** ({k} / 4{speed}): 에폭 {epoch} / {epochs}",
    # messages of the tabs themselves
    "Upload a picture (or take one with the webcam), or press 'random test image'.":
        "사진을 올리거나(웹캠으로 찍어도 됩니다) '무작위 테스트 이미지'를 누르세요.",
    "Choose a .safetensors checkpoint file (the Train tab's download).":
        ".safetensors 체크포인트 파일(학습 탭에서 내려받은 것)을 고르세요.",
    "These test images belong to another model: choose the model again.":
        "이 테스트 이미지들은 다른 모델의 것입니다: 모델을 다시 고르세요.",
    "Choose a .safetensors classifier checkpoint (the Train tab's download).":
        ".safetensors 분류기 체크포인트(학습 탭에서 내려받은 것)를 고르세요.",
    "Choose a generator checkpoint (.safetensors), e.g. the GAN tab's download.":
        "생성자 체크포인트(.safetensors)를 고르세요. 예: GAN 탭에서 내려받은 것.",
    "Choose a picture: press 'test image', or upload one.": "사진을 고르세요: '테스트 이미지'를 누르거나 하나를 올리세요.",
    "Choose a run of this session that was stopped (the 'resume' list), then press Resume.":
        "이 세션에서 정지된 실행을 ('이어서 학습' 목록에서) 고른 다음 '이어서 학습'을 누르세요.",
    # a form's numbers (ui.common.NumberField)
    "{label} is empty: type a number": "{label} 칸이 비어 있습니다: 숫자를 입력하세요",
    "{label} must be a number, got {value}": "{label}은(는) 숫자여야 합니다 (입력: {value})",
    "{label} must be a whole number, got {value}": "{label}은(는) 정수여야 합니다 (입력: {value})",
    "{label} must be at least {minimum}, got {number}": "{label}은(는) {minimum} 이상이어야 합니다 (입력: {number})",
    "{label} must be at most {maximum}, got {number}": "{label}은(는) {maximum} 이하여야 합니다 (입력: {number})",
    # the GAN tab's status line (ui.gan_tab)
    "W estimate {w}": "W 추정값 {w}",
    "stopped: the losses diverged": "정지됨: 손실이 발산했습니다",
    "reached this server's {minutes}-minute limit": "이 서버의 {minutes}분 제한에 도달했습니다",
    "**{name}** {why} · {message}. Its generator is now in the **generator** list of **Generate and walk**, "
    "its samples drawn there.": "**{name}** {why} · {message}. 이 생성자는 이제 **생성과 걷기** 탭의 **생성자** 목록에 "
                               "있고, 그 샘플이 거기 그려집니다.",
}


# The core's (cnnzoo's) messages a student meets most, in Korean: a pattern of the English message,
# its parts by name, and the Korean with those parts (which stay as the core said them: a file's
# name, a number, a reason). The core speaks English; the page translates at its edge (said_error).
ERRORS: list[tuple[re.Pattern, str]] = [(re.compile(pattern, re.DOTALL), korean) for pattern, korean in [
    (r"(?P<name>\S+) is not available: (?P<reason>.*?) Looked in the data directory (?P<root>\S+) \(set it "
     r"with root= or the CNNZOO_DATA_DIR environment variable\) for (?P<missing>.*)\. Put the files there in "
     r"torchvision's layout, or allow a download on a machine that is online\. The built-in datasets work "
     r"offline: .*\.",
     "{name}을(를) 쓸 수 없습니다: {reason} 데이터 폴더 {root}에서 {missing}을(를) 찾았습니다 (root= 또는 "
     "CNNZOO_DATA_DIR 환경 변수로 정합니다). 그 파일들을 torchvision의 구조로 그곳에 두거나, 인터넷이 되는 "
     "컴퓨터에서 내려받게 하세요. 내장 데이터셋은 오프라인에서 작동합니다: digits(손글씨 8×8 숫자)와 "
     "shapes(상자가 있는 색깔 도형)."),
    (r"could not read the image \((?P<why>.*)\); use a PNG, JPEG, GIF, BMP, TIFF or WebP file",
     "이미지를 읽을 수 없습니다 ({why}). PNG, JPEG, GIF, BMP, TIFF 또는 WebP 파일을 쓰세요"),
    (r"the image is (?P<w>\d+)×(?P<h>\d+) pixels; the limit is (?P<n>\d+) million\. Resize it first\.",
     "이미지가 {w}×{h} 픽셀입니다. 한도는 {n}백만 픽셀입니다. 먼저 크기를 줄이세요."),
    (r"(?P<name>.+?) is not a cnnzoo checkpoint \(a \.safetensors file saved by cnnzoo\); train a model or "
     r"pick one of the shipped checkpoints: (?P<why>.*)",
     "{name}은(는) cnnzoo 체크포인트(cnnzoo가 저장한 .safetensors 파일)가 아닙니다. 모델을 학습하거나 함께 "
     "제공된 체크포인트 중 하나를 고르세요: {why}"),
    (r"(?P<name>.+?) is a safetensors file but not a cnnzoo checkpoint: (?P<rest>.*)",
     "{name}은(는) safetensors 파일이지만 cnnzoo 체크포인트가 아닙니다: {rest}"),
    (r"(?P<name>.+?) holds a (?P<found>\w+) \((?P<model>[^)]*)\), not a (?P<kind>\w+); use (?P<use>.*)\.",
     "{name}에는 {kind}가 아니라 {found}({model})가 들어 있습니다. {use}을(를) 쓰세요."),
    (r"(?P<family>.+?) depth must be (?P<rule>\d+n \+ \d+) \(n >= 1\): (?P<smallest>.*?), …, e\.g\. the "
     r"paper's (?P<examples>.*?); got (?P<depth>.+)",
     "{family}의 깊이는 {rule}(n ≥ 1)이어야 합니다: {smallest}, …, 예: 논문의 {examples}; 입력: {depth}"),
    (r"localisation needs true boxes, which only the shapes dataset has; this model was trained on "
     r"(?P<dataset>.*?)\. Choose a model trained on shapes \(train one in the Train tab: dataset shapes\)\.",
     "위치 찾기에는 정답 상자가 필요하고, 그것은 shapes 데이터셋에만 있습니다. 이 모델은 {dataset}(으)로 "
     "학습되었습니다. shapes로 학습된 모델을 고르세요 (학습 탭에서 데이터셋 shapes로 학습하세요)."),
]]
